"""Where a local run keeps its results: the output folder's layout.

Free of TensorFlow imports, so that quick commands (``runs``, ``tensorboard``,
option errors, ``predict`` without a model) need not load it::

    OUTPUT/
      tfx/                     pipeline root: every component's artifacts
      metadata.sqlite          ML Metadata
      projector/               stable copy of the latest projector files, and training/ logs
      serving_model/<version>/ SavedModels pushed by the Pusher
      status.json              the last run's or retraining iteration's outcome (pipeline/records/status.py)
      .run.lock                held by the run using the folder
"""

import contextlib
import dataclasses
import fcntl
import os
import time
from typing import Optional

from components.served_model import SAVED_MODEL_FILE, served_versions

LOCK_FILE = ".run.lock"
# Subfolder of OUTPUT/projector/ holding a copy of the Trainer's TensorBoard logs.
TRAINING_LOGS_FOLDER = "training"


class OutputFolderError(Exception):
    """The output folder cannot be used; the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class OutputPaths:
    """The fixed locations under an output folder."""

    pipeline_root: str  # every component's artifacts
    metadata: str  # the ML Metadata SQLite file
    projector: str  # the stable copy of the latest projector files and training logs
    serving_model: str  # the Pusher's <version>/ SavedModels
    status: str  # the last iteration's outcome, JSON
    lock: str  # held by the run using the folder


def output_paths(output_dir: str) -> OutputPaths:
    """The fixed locations under ``output_dir``."""
    return OutputPaths(
        pipeline_root=os.path.join(output_dir, "tfx"),
        metadata=os.path.join(output_dir, "metadata.sqlite"),
        projector=os.path.join(output_dir, "projector"),
        serving_model=os.path.join(output_dir, "serving_model"),
        status=os.path.join(output_dir, "status.json"),
        lock=os.path.join(output_dir, LOCK_FILE),
    )


class OutputFolderBusyError(OutputFolderError):
    """Another run holds the output folder."""


@contextlib.contextmanager
def output_lock(output_dir: str):
    """Holds an exclusive lock on the output folder for the duration of a run.

    An advisory ``flock``: the kernel releases it when the holder exits, even on
    SIGKILL, so a killed run never leaves the folder locked.

    Raises:
      OutputFolderBusyError: At once, if another process holds the lock.
    """
    with open(output_paths(output_dir).lock, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise OutputFolderBusyError(
                f"Another run is using the output folder {output_dir} ({holder}). Fix: wait for it to "
                f"finish, or pass another --output-dir."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)
            fcntl.flock(lock, fcntl.LOCK_UN)


def check_output_dir(output_dir: str, create: bool = True) -> str:
    """Creates the output folder if needed (unless not ``create``) and returns its absolute path; refuses a path
    that is a file."""
    path = os.path.abspath(os.path.expanduser(output_dir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputFolderError(f"Output folder {path} is a file. Fix: pass another --output-dir, or move the file away.")
    if create:
        os.makedirs(path, exist_ok=True)
    return path


def latest_serving_model(serving_model_dir: str) -> Optional[str]:
    """The newest ``<version>/`` SavedModel the Pusher wrote, or None."""
    versions = served_versions(serving_model_dir)
    return os.path.join(serving_model_dir, versions[0]) if versions else None


def resolve_model_dir(model_dir: Optional[str], output_dir: str) -> str:
    """``model_dir``, else the newest model pushed under ``output_dir/serving_model``.

    Raises:
      OutputFolderError: If no model was pushed there, or a local ``model_dir`` is not a folder
        (a URI such as gs://... is checked when it is loaded).
    """
    if model_dir:
        if "://" not in model_dir and not os.path.isdir(model_dir):
            raise OutputFolderError(f"--model {model_dir} is not a folder. Fix: pass a serving_model/<version> folder.")
        if "://" not in model_dir and not os.path.isfile(os.path.join(model_dir, SAVED_MODEL_FILE)):
            newest = latest_serving_model(model_dir)
            fix = f"pass --model {newest}, its newest version" if newest else "pass a serving_model/<version> folder"
            raise OutputFolderError(f"--model {model_dir} holds no SavedModel ({SAVED_MODEL_FILE}). Fix: {fix}.")
        return model_dir if "://" in model_dir else os.path.abspath(model_dir)
    serving = output_paths(os.path.abspath(output_dir)).serving_model
    latest = latest_serving_model(serving)
    if latest is None:
        raise OutputFolderError(
            f"No served model under {serving}. Fix: run `python pipeline.py run` first, or pass --model DIR."
        )
    return latest


# Below this, a failure in the output folder is taken for a full disk: SQLite and some
# TensorFlow writers report one only as a failed commit or write.
_NEARLY_FULL_BYTES = 1 << 20


def is_disk_full(err: BaseException, output_dir: Optional[str] = None) -> bool:
    """Whether an error, or one it was raised from, is a full disk (OS, TensorFlow or SQLite)."""
    import errno

    if output_dir and os.path.isdir(output_dir):
        stats = os.statvfs(output_dir)
        if stats.f_bavail * stats.f_frsize < _NEARLY_FULL_BYTES:
            return True
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(text in str(err) for text in ("No space left on device", "database or disk is full")):
            return True
        err = err.__cause__ or err.__context__
    return False

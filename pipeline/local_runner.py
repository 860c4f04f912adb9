"""Runs the pipeline on this machine: LocalDagRunner, Beam's DirectRunner, ML Metadata in SQLite.

Output folder layout::

    OUTPUT/
      tfx/                     pipeline root: every component's artifacts
      metadata.sqlite          ML Metadata
      projector/               stable copy of the latest projector files, and training/ logs
      serving_model/<version>/ SavedModels pushed by the Pusher
"""

import contextlib
import dataclasses
import fcntl
import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Optional

import tensorflow as tf

from tfx import v1 as tfx

from components.example_gen.executor import INPUT_REPORT_FILE
from components.model import trainer as trainer_module
from components.model.hparams import HParams
from components.projector import DEFAULT_PROBE_WORDS
from components.projector.projector import NEIGHBOURS_FILE
from pipeline import data, defaults, evaluation, factory, metadata, progress

PIPELINE_NAME = "imdb-word-embeddings"


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Everything a local run needs; the command line fills it in."""

    data_dir: str
    output_dir: str
    hparams: HParams
    eval_percent: int = defaults.DEFAULT_EVAL_PERCENT
    accuracy_floor: float = defaults.DEFAULT_ACCURACY_FLOOR
    max_accuracy_drop: float = defaults.DEFAULT_MAX_ACCURACY_DROP
    label_balance_bound: float = defaults.DEFAULT_LABEL_BALANCE_BOUND
    probe_words: tuple = DEFAULT_PROBE_WORDS
    enable_cache: bool = True
    beam_pipeline_args: tuple = ()
    pipeline_name: str = PIPELINE_NAME


@dataclasses.dataclass(frozen=True)
class RunReport:
    """What a finished run produced."""

    run_id: str
    seconds: float
    components: List[metadata.ComponentRun]
    projector_dir: str
    serving_model_dir: Optional[str]
    training_summary: dict
    split_counts: Dict[str, int]
    neighbours: Dict[str, list]
    evaluation: Optional[evaluation.EvaluationSummary]
    input_report: Dict[str, Any]
    vocabulary_size: Optional[int] = None


def count_examples(examples_uri: str) -> Dict[str, int]:
    """Records per split of an ExampleGen output folder (``Split-NAME/*.gz``)."""
    counts = {}
    for folder in sorted(tf.io.gfile.glob(os.path.join(examples_uri, "Split-*"))):
        files = tf.io.gfile.glob(os.path.join(folder, "*.gz"))
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
        counts[os.path.basename(folder)[len("Split-"):]] = int(dataset.reduce(0, lambda n, _: n + 1).numpy())
    return counts


def output_paths(output_dir: str) -> dict:
    """The fixed locations under an output folder."""
    return {
        "pipeline_root": os.path.join(output_dir, "tfx"),
        "metadata": os.path.join(output_dir, "metadata.sqlite"),
        "projector": os.path.join(output_dir, "projector"),
        "serving_model": os.path.join(output_dir, "serving_model"),
    }


LOCK_FILE = ".run.lock"
# Subfolder of OUTPUT/projector/ holding a copy of the Trainer's TensorBoard logs.
TRAINING_LOGS_FOLDER = "training"


class OutputFolderBusyError(data.DataError):
    """Another run holds the output folder."""


@contextlib.contextmanager
def output_lock(output_dir: str):
    """Holds an exclusive lock on the output folder for the duration of a run.

    An advisory ``flock``: the kernel releases it when the holder exits, even on
    SIGKILL, so a killed run never leaves the folder locked.

    Raises:
      OutputFolderBusyError: At once, if another process holds the lock.
    """
    path = os.path.join(output_dir, LOCK_FILE)
    with open(path, "a+") as lock:
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


def check_output_dir(output_dir: str) -> str:
    """Creates the output folder if needed; refuses a path that is a file."""
    path = os.path.abspath(os.path.expanduser(output_dir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise data.DataError(f"Output folder {path} is a file. Fix: pass another --output-dir, or move the file away.")
    os.makedirs(path, exist_ok=True)
    return path


def _replace_dir(source: str, destination: str, extra: Optional[Dict[str, str]] = None) -> None:
    """Copies ``source`` to ``destination``, swapping the old copy out only once the new one is whole.

    Args:
      source: Folder to copy.
      destination: Where the copy goes; an earlier copy there is replaced.
      extra: ``{subfolder name: folder}`` copied into the new copy as well.
    """
    parent = os.path.dirname(destination)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=parent)
    try:
        shutil.copytree(source, os.path.join(staging, "new"))
        for name, folder in (extra or {}).items():
            shutil.copytree(folder, os.path.join(staging, "new", name))
        old = os.path.join(staging, "old")
        if os.path.exists(destination):
            os.replace(destination, old)
        os.replace(os.path.join(staging, "new"), destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def latest_serving_model(serving_model_dir: str) -> Optional[str]:
    """The newest ``<version>/`` SavedModel the Pusher wrote, or None."""
    if not os.path.isdir(serving_model_dir):
        return None
    versions = [v for v in os.listdir(serving_model_dir) if v.isdigit() and
                os.path.exists(os.path.join(serving_model_dir, v, "saved_model.pb"))]
    return os.path.join(serving_model_dir, max(versions, key=int)) if versions else None


def run_local(settings: RunSettings) -> RunReport:
    """Runs the pipeline to completion and publishes the stable copies.

    Raises:
      OutputFolderBusyError: If another run is using the output folder.
      RuntimeError: If the run ended without a projector output.
    """
    output_dir = check_output_dir(settings.output_dir)
    with output_lock(output_dir):
        return _run_locked(settings, output_dir)


def _run_locked(settings: RunSettings, output_dir: str) -> RunReport:
    paths = output_paths(output_dir)
    pipeline = factory.create_pipeline(
        pipeline_name=settings.pipeline_name,
        pipeline_root=paths["pipeline_root"],
        data_dir=settings.data_dir,
        serving_model_dir=paths["serving_model"],
        hparams=settings.hparams,
        include_test_split=data.has_test_split(settings.data_dir),
        eval_percent=settings.eval_percent,
        accuracy_floor=settings.accuracy_floor,
        max_accuracy_drop=settings.max_accuracy_drop,
        label_balance_bound=settings.label_balance_bound,
        probe_words=settings.probe_words,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(paths["metadata"]),
        beam_pipeline_args=list(settings.beam_pipeline_args),
        enable_cache=settings.enable_cache,
    )
    if os.path.exists(paths["metadata"]):
        for node_id in metadata.cancel_orphaned_executions(paths["metadata"], settings.pipeline_name):
            progress.LOGGER.info("%s: marked the execution of an interrupted run as canceled", node_id)
    started = time.monotonic()
    with progress.component_progress(paths["metadata"], settings.pipeline_name):
        tfx.orchestration.LocalDagRunner().run(pipeline)
    seconds = time.monotonic() - started

    store = metadata.open_store(paths["metadata"])
    run_id = metadata.latest_run_id(store, settings.pipeline_name)
    components = metadata.component_runs(store, settings.pipeline_name, run_id) if run_id else []
    by_node = {c.node_id: c for c in components}
    projector_run = by_node.get("ProjectorExporter")
    if not projector_run or not projector_run.outputs.get("projector"):
        raise RuntimeError(f"The run {run_id} produced no projector files; see the log above.")
    trainer_run = by_node.get("Trainer")
    # The training logs go beside the projector files, so that one `tensorboard --logdir`
    # shows both (the Projector plugin reads only the root of --logdir, not --logdir_spec).
    training_logs = {}
    if trainer_run and trainer_run.outputs.get("model_run"):
        training_logs[TRAINING_LOGS_FOLDER] = trainer_run.outputs["model_run"][0]
    _replace_dir(projector_run.outputs["projector"][0], paths["projector"], training_logs)

    training_summary = {}
    if trainer_run and trainer_run.outputs.get("model_run"):
        summary_path = os.path.join(trainer_run.outputs["model_run"][0], trainer_module.TRAINING_SUMMARY_FILE)
        training_summary = metadata.read_json(summary_path) or {}
    example_gen_run = by_node.get("AclImdbExampleGen")
    split_counts = count_examples(example_gen_run.outputs["examples"][0]) if example_gen_run else {}
    input_report = {}
    if example_gen_run:
        input_report = metadata.read_json(os.path.join(example_gen_run.outputs["examples"][0], INPUT_REPORT_FILE)) or {}
    neighbours = metadata.read_json(os.path.join(paths["projector"], NEIGHBOURS_FILE)) or {}
    evaluator_run = by_node.get("Evaluator")
    evaluation_summary = None
    if evaluator_run and evaluator_run.outputs.get("evaluation"):
        evaluation_summary = evaluation.read_evaluation(
            evaluator_run.outputs["evaluation"][0], evaluator_run.outputs["blessing"][0]
        )
    return RunReport(
        run_id=run_id or "",
        seconds=seconds,
        components=components,
        projector_dir=paths["projector"],
        serving_model_dir=latest_serving_model(paths["serving_model"]),
        training_summary=training_summary,
        split_counts=split_counts,
        neighbours=neighbours,
        evaluation=evaluation_summary,
        input_report=input_report,
        vocabulary_size=_vocabulary_size(by_node.get("Transform")),
    )


def _vocabulary_size(transform_run: Optional[metadata.ComponentRun]) -> Optional[int]:
    if not transform_run or not transform_run.outputs.get("transform_graph"):
        return None
    return progress.vocabulary_size(transform_run.outputs["transform_graph"][0])


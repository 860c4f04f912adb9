"""Where a local run keeps its results: the output folder's layout.

Free of TensorFlow imports, so that quick commands (``runs``, ``tensorboard``,
option errors) need not load it::

    OUTPUT/
      tfx/                     pipeline root: every component's artifacts
      metadata.sqlite          ML Metadata
      projector/               stable copy of the latest projector files, and training/ logs
      serving_model/<version>/ SavedModels pushed by the Pusher
      .run.lock                held by the run using the folder
"""

import os
from typing import Dict, Optional

LOCK_FILE = ".run.lock"
# Subfolder of OUTPUT/projector/ holding a copy of the Trainer's TensorBoard logs.
TRAINING_LOGS_FOLDER = "training"


class OutputFolderError(Exception):
    """The output folder cannot be used; the message says how to fix it."""


def output_paths(output_dir: str) -> Dict[str, str]:
    """The fixed locations under an output folder."""
    return {
        "pipeline_root": os.path.join(output_dir, "tfx"),
        "metadata": os.path.join(output_dir, "metadata.sqlite"),
        "projector": os.path.join(output_dir, "projector"),
        "serving_model": os.path.join(output_dir, "serving_model"),
        "lock": os.path.join(output_dir, LOCK_FILE),
    }


def check_output_dir(output_dir: str) -> str:
    """Creates the output folder if needed and returns its absolute path; refuses a path that is a file."""
    path = os.path.abspath(os.path.expanduser(output_dir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputFolderError(f"Output folder {path} is a file. Fix: pass another --output-dir, or move the file away.")
    os.makedirs(path, exist_ok=True)
    return path


def latest_serving_model(serving_model_dir: str) -> Optional[str]:
    """The newest ``<version>/`` SavedModel the Pusher wrote, or None."""
    if not os.path.isdir(serving_model_dir):
        return None
    versions = [v for v in os.listdir(serving_model_dir) if v.isdigit() and
                os.path.exists(os.path.join(serving_model_dir, v, "saved_model.pb"))]
    return os.path.join(serving_model_dir, max(versions, key=int)) if versions else None

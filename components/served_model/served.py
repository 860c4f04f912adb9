"""Finding and copying the served model: plain ``tf.io.gfile`` logic, no TFX types.

The Pusher writes ``SERVING/<version>/`` with ``<version>`` the push time in seconds, a
SavedModel in each. A model is identified by its SavedModel fingerprint
(``fingerprint.pb``, written with every SavedModel since TensorFlow 2.12): the Pusher's
copy of a model has the same bytes as the Trainer's export.
"""

import json
import os
from typing import List, Optional

import tensorflow as tf

from components.served_model import INPUT_FINGERPRINT_KEY, SAVED_MODEL_FILE, TRAINING_DATA_FILE, served_versions

FINGERPRINT_FILE = "fingerprint.pb"
# A local version is renamed to this prefix and its number before it is deleted: not a number, so neither TF
# Serving nor ``served_versions`` ever sees a half-deleted version.
DELETING_PREFIX = ".deleting-"
# In a bucket, a version being deleted holds this file first: a numbered folder without a SavedModel is a push
# under way unless it has it.
DELETING_MARKER = "DELETING"


def model_identity(saved_model_dir: str) -> Optional[bytes]:
    """The SavedModel's fingerprint bytes; None when it has none."""
    path = os.path.join(saved_model_dir, FINGERPRINT_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def is_served(serving_model_dir: str, version: str, saved_model_dir: str) -> bool:
    """Whether ``version`` under the serving folder is a copy of the model in ``saved_model_dir``."""
    identity = model_identity(saved_model_dir)
    return identity is not None and identity == model_identity(os.path.join(serving_model_dir, version))


def latest_served_version(serving_model_dir: str, other_than: Optional[str] = None) -> str:
    """The newest served version, "" when there is none.

    Args:
      serving_model_dir: The Pusher's folder.
      other_than: A SavedModel folder (this run's candidate): a version that is a copy of it is
        skipped, so that a model is never its own baseline, and a re-run with nothing changed
        finds the baseline its first run found.
    """
    for version in served_versions(serving_model_dir):
        if other_than is None or not is_served(serving_model_dir, version, other_than):
            return version
    return ""


def record_training_data(version_dir: str, input_fingerprint: str) -> None:
    """Writes, into a pushed version, the input fingerprint of the data its model was trained on."""
    path = os.path.join(version_dir, TRAINING_DATA_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump({INPUT_FINGERPRINT_KEY: input_fingerprint}, f)


def trained_on(version_dir: str) -> Optional[str]:
    """The input fingerprint a served version records, None when it records none (pushed by hand or
    by an earlier release)."""
    path = os.path.join(version_dir, TRAINING_DATA_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f).get(INPUT_FINGERPRINT_KEY)


def warm_start_version(serving_model_dir: str, input_fingerprint: str) -> str:
    """The newest served version not trained on the data of ``input_fingerprint``; "" when none is.

    A run over data a served model was already trained on is the schedule's own re-run: it starts
    from the version the first run over that data started from, so that its cache key, and so its
    model, stays the same, instead of warm-starting from its own push and training again.
    """
    for version in served_versions(serving_model_dir):
        if trained_on(os.path.join(serving_model_dir, version)) != input_fingerprint:
            return version
    return ""


def copy_tree(source: str, destination: str) -> None:
    """Copies a folder with ``tf.io.gfile`` (any file system it knows: local, gs://)."""
    for parent, _, files in tf.io.gfile.walk(source):
        relative = os.path.relpath(parent, source)
        target = destination if relative == "." else os.path.join(destination, relative)
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(os.path.join(parent, name), os.path.join(target, name), overwrite=True)


def prune_versions(serving_model_dir: str, keep: int) -> List[str]:
    """Deletes every complete version but the newest ``keep`` (0: none), and what a killed deletion left; returns
    the versions deleted, oldest first.

    A version is first taken out of view, then deleted: a local one renamed to ``.deleting-VERSION`` (one
    atomic step); one in a bucket (which has no atomic rename) marked with a ``DELETING`` file, then losing its
    ``saved_model.pb``, after which it is no complete version. So a deletion killed at any point leaves no
    version that TF Serving or the warm start would take for a model, and the next prune finishes it; a
    numbered folder without either sign (a push under way) is left alone.
    """
    if not tf.io.gfile.isdir(serving_model_dir):
        return []
    complete = served_versions(serving_model_dir)
    names = [name.rstrip("/") for name in tf.io.gfile.listdir(serving_model_dir)]
    leftovers = [name for name in names if name.startswith(DELETING_PREFIX)]
    leftovers += [name for name in names if name.isdigit() and name not in complete
                  and tf.io.gfile.exists(os.path.join(serving_model_dir, name, DELETING_MARKER))]
    doomed = sorted(complete[keep:], key=int) if keep else []
    local = "://" not in serving_model_dir
    for version in doomed:
        path = os.path.join(serving_model_dir, version)
        if local:
            os.rename(path, os.path.join(serving_model_dir, DELETING_PREFIX + version))
            leftovers.append(DELETING_PREFIX + version)
        else:
            with tf.io.gfile.GFile(os.path.join(path, DELETING_MARKER), "w") as f:
                f.write("being deleted: older than the newest versions kept\n")
            tf.io.gfile.remove(os.path.join(path, SAVED_MODEL_FILE))
            leftovers.append(version)
    for name in leftovers:
        tf.io.gfile.rmtree(os.path.join(serving_model_dir, name))
    return doomed

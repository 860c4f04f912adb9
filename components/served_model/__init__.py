"""The served model as a pipeline input: found under the serving folder, not in ML Metadata.

The Pusher writes every blessed model to ``SERVING/<version>/``; the newest version is
the one being served. ``ServedModel`` hands a version on as a ``Model`` artifact, to the
Trainer (warm start) and to the Evaluator (baseline): the newest (locally), or the newest
not trained on the run's data (on Kubeflow, named by the input probe), never a copy of the
candidate. It reads
the folder with ``tf.io.gfile``, so it needs neither a resolver node (which open-source
Kubeflow Pipelines cannot run) nor the orchestrator's ML Metadata.

Key names shared by the component specs, the executors, the driver and the tests.
"""

from typing import List

from components import file_system

# ServedModel's parameters.
SERVING_MODEL_DIR_KEY = "serving_model_dir"
# The served version: an execution property filled in before the cache check, so that the cache key changes
# with what is served (by ServedModelDriver locally, by the input probe on Kubeflow), and a custom property of
# the output Model naming the version copied. "" when nothing is served.
SERVED_VERSION_KEY = "served_version"
# ServedModel's input: the model this run trained, never its own baseline (its twin in the folder is skipped).
CANDIDATE_KEY = "candidate"
# ServedModel's output.
MODEL_KEY = "model"
# The input fingerprint of the examples a model was judged on, which are those it was trained on: a custom
# property of the Evaluator's blessing, and, in every version the Pusher writes, a TF Serving extra asset
# (``assets.extra/``, which TF Serving ignores), so that the input probe can tell the schedule's own
# pushes from other changes of the served model.
INPUT_FINGERPRINT_KEY = "input_fingerprint"
TRAINING_DATA_FILE = "assets.extra/training_data.json"
# What makes a folder a SavedModel (a served version, a --model folder).
SAVED_MODEL_FILE = "saved_model.pb"
# The Pusher's custom_config key: how many served versions it keeps (the newest, the served one, and those before
# it, for rollback); 0 keeps every version.
KEEP_VERSIONS_KEY = "keep_versions"


def served_versions(serving_model_dir: str) -> List[str]:
    """The complete versions under the serving folder (a path or URI; those holding a SavedModel), newest first."""
    files = file_system.for_path(serving_model_dir)
    if not files.isdir(serving_model_dir):
        return []
    versions = [name.rstrip("/") for name in files.listdir(serving_model_dir)]
    complete = [v for v in versions if v.isdigit() and files.exists(
        file_system.child(file_system.child(serving_model_dir, v), SAVED_MODEL_FILE))]
    return sorted(complete, key=int, reverse=True)

"""Container entry points of the compiled pipeline's steps on Kubeflow Pipelines and Vertex AI.

``python -m pipeline.runners.kfp_container executor --executor_class_path ... --json_serialized_invocation_args ...``
    TFX's own entry point (``kubeflow_v2_run_executor``), given the task's ``ExecutorInput`` as
    open-source KFP's driver hands it over, fitted where TFX's entry point would fail
    (``ExecutorCall``): the outputs the launcher adds for itself taken out, each untyped input
    artifact given its declared type, the ExecutorOutput written beside the outputs in the bucket
    and copied to the pod's file the launcher reads. Artifacts in a store the image cannot open
    (``minio://``, ``s3://``) are handed to TFX as the launcher's local copies, and their URIs
    restored in the ExecutorOutput. Once the executor has finished, the zero-byte folder markers
    under its outputs are deleted (``delete_folder_markers``) and the process ends without the
    interpreter's teardown.

``python -m pipeline.runners.kfp_container probe --executor_input ...``
    The input probe: the first step of every run, never cached (one of its inputs is the run's
    id). It resolves what TFX's drivers resolve before the cache is looked up, which open-source
    KFP never runs (``preCacheCheck`` hooks are Vertex AI's, and there TFX's own driver module,
    which fingerprints the newest span only, would run): the newest span, the fingerprint of the
    whole window and the resolved input patterns of the ExampleGen, and the served version to
    warm-start from and to compare against: the newest one not trained on this very data. The
    compiled spec passes them to the ExampleGen and the ServedModel steps as parameters, so that
    KFP's cache key (``backend/src/v2/cacheutils/cache.go``: the component, its parameters and
    input artifacts) changes exactly when the data or the served model changed, and not when the
    only change is this schedule's own push of a model trained on the same data.
"""

import argparse
import logging
import os
import sys
import time
from typing import Dict, List, Optional, Tuple

from google.protobuf import json_format

# Outputs typed in KFP's own schema namespace belong to the launcher: every TFX component types its
# outputs with its artifact class's name (tfx.Examples, imdb_embeddings.WordEmbedding, ...).
LAUNCHER_TYPE_PREFIX = "system."
INVOCATION_FLAG = "--json_serialized_invocation_args"
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"
# The ExecutorOutput TFX writes beside the task's outputs when the launcher's file is a pod's (ExecutorCall).
EXECUTOR_OUTPUT_FILE = "executor_output.json"
# Stores whose artifacts TFX works on as the launcher's local copies: the image's TensorFlow opens gs:// and
# local paths only (s3:// would need tensorflow-io in every process, Beam workers included).
LOCAL_COPY_SCHEMES = ("minio://", "s3://")
# KEY=PATH, one per artifact: the local copy the launcher makes (``{{$.inputs.artifacts['KEY'].path}}``, which
# it resolves to ``LocalPathForURI``), compiled into the steps of a pipeline rooted in such a store.
INPUT_PATH_FLAG = "--input_artifact_path"
OUTPUT_PATH_FLAG = "--output_artifact_path"

# The probe's inputs and outputs, named as the ExampleGen's and ServedModel's execution properties.
PROBE_INPUT_BASE = "input_base"
PROBE_INPUT_CONFIG = "input_config"
PROBE_CUSTOM_CONFIG = "custom_config"  # the ExampleGen's: the window
# The run's id (``{{$.pipeline_job_uuid}}``, which the driver fills in): an input no two runs share, so that
# the probe never comes from the cache, whatever the run's or the job's caching setting.
PROBE_RUN_ID = "run_id"
PROBE_SERVING_MODEL_DIR = "serving_model_dir"
PROBE_SPAN = "span"
PROBE_INPUT_FINGERPRINT = "input_fingerprint"
PROBE_SERVED_VERSION = "served_version"
# Output parameter: its type in the compiled spec.
PROBE_OUTPUTS = {PROBE_SPAN: "NUMBER_INTEGER", PROBE_INPUT_FINGERPRINT: "STRING", PROBE_INPUT_CONFIG: "STRING",
                 PROBE_SERVED_VERSION: "STRING"}


def _schema_title(artifact_type) -> str:
    if artifact_type.schema_title:
        return artifact_type.schema_title
    for line in artifact_type.instance_schema.splitlines():
        if line.startswith("title:"):
            return line.split(":", 1)[1].strip()
    return ""


def _parse_executor_input(serialized: str):
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel

    return json_format.Parse(serialized, pipeline_spec_pb2.ExecutorInput(), ignore_unknown_fields=True)


def without_launcher_outputs(executor_input) -> None:
    """Takes the output artifacts of KFP's ``system.*`` types out of the ExecutorInput."""
    outputs = executor_input.outputs.artifacts
    for key in [key for key, artifacts in outputs.items()
                if any(_schema_title(a.type).startswith(LAUNCHER_TYPE_PREFIX) for a in artifacts.artifacts)]:
        del outputs[key]


def with_input_types(executor_input, serialized_inputs_spec: str) -> None:
    """Gives every input artifact that arrives untyped the type its component declares.

    Open-source KFP's driver hands each upstream artifact over with an empty type: it reads it back
    from ML Metadata, where ``GetOutputArtifactsByExecutionId`` sets ``Schema: ""`` ("TODO: figure
    out how to get schema", ``backend/src/v2/metadata/client.go``), and ``toRuntimeArtifact`` writes
    ``type: {instanceSchema: ""}``. TFX's entry point reads the artifact class from that schema
    (``_retrieve_class_path``: ``yaml.safe_load("")`` is None) and fails with ``AttributeError:
    'NoneType' object has no attribute 'get'`` (tensorflow/tfx#7768). The component's own input
    definitions, which TFX compiles into every step's arguments, name the type.
    """
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel

    inputs_spec = json_format.Parse(serialized_inputs_spec, pipeline_spec_pb2.ComponentInputsSpec(),
                                    ignore_unknown_fields=True)
    for key, artifacts in executor_input.inputs.artifacts.items():
        declared = inputs_spec.artifacts[key].artifact_type if key in inputs_spec.artifacts else None
        for artifact in artifacts.artifacts:
            if _schema_title(artifact.type):
                continue
            if declared is None or not _schema_title(declared):
                raise ValueError(f"input artifact {key!r} arrived without a type and the component declares none; "
                                 f"the step cannot tell which artifact class to load. Fix: compile the pipeline again "
                                 f"with this release, whose steps carry their input definitions "
                                 f"({INPUTS_SPEC_FLAG}).")
            artifact.type.CopyFrom(declared)


def local_copies(executor_input, input_paths: Dict[str, str], output_paths: Dict[str, str]) -> Dict[str, str]:
    """Points every artifact in a ``LOCAL_COPY_SCHEMES`` store at the launcher's local copy; returns each output's
    local path -> its URI, to restore in the ExecutorOutput.

    Open-source KFP's launcher downloads every input artifact to ``LocalPathForURI`` of its URI before the step
    and uploads every output artifact from there afterwards (``launcher_v2.go``, ``downloadArtifacts`` and
    ``uploadOutputArtifacts``). An object store has no folders, so an artifact that was an empty folder
    arrives as nothing: it is made again, as every TFX artifact is a folder.

    Raises:
      ValueError: For an artifact in such a store whose local path the step was not given.
    """
    restore = {}
    for side, artifact_lists, paths in (("input", executor_input.inputs.artifacts, input_paths),
                                        ("output", executor_input.outputs.artifacts, output_paths)):
        for key, artifacts in artifact_lists.items():
            for artifact in artifacts.artifacts:
                if not artifact.uri.startswith(LOCAL_COPY_SCHEMES):
                    continue
                if key not in paths:
                    raise ValueError(
                        f"{side} artifact {key!r} is in {artifact.uri.split('://')[0]}://, which the image cannot "
                        f"open, and the step was not given the launcher's local copy of it. Fix: compile the "
                        f"pipeline again with this release, whose steps name each copy "
                        f"({INPUT_PATH_FLAG if side == 'input' else OUTPUT_PATH_FLAG}).")
                if len(artifacts.artifacts) > 1:
                    raise ValueError(
                        f"{side} artifact {key!r} is a list of {len(artifacts.artifacts)} artifacts in "
                        f"{artifact.uri.split('://')[0]}://, and the launcher names a local copy for the first one "
                        f"only ({{{{$.{side}s.artifacts['{key}'].path}}}}). Fix: use a gs:// pipeline root.")
                if side == "input" and not os.path.exists(paths[key]):
                    os.makedirs(paths[key])
                else:
                    restore[paths[key]] = artifact.uri
                artifact.uri = paths[key]
    return restore


def restore_output_uris(executor_output_path: str, restore: Dict[str, str]) -> None:
    """Gives the output artifacts in the ExecutorOutput their store URIs back.

    The launcher takes an artifact's URI from the ExecutorOutput when one is there (``mergeRuntimeArtifacts``),
    uploads from ``LocalPathForURI`` of it, and records it in ML Metadata: a local path would be neither
    uploaded nor found by the next step.
    """
    if not restore or not os.path.exists(executor_output_path):
        return
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel

    with open(executor_output_path, encoding="utf-8") as f:
        executor_output = json_format.Parse(f.read(), pipeline_spec_pb2.ExecutorOutput(), ignore_unknown_fields=True)
    for artifacts in executor_output.artifacts.values():
        for artifact in artifacts.artifacts:
            for local, uri in restore.items():
                if artifact.uri == local or artifact.uri.startswith(local + "/"):
                    artifact.uri = uri + artifact.uri[len(local):]
    with open(executor_output_path, "w", encoding="utf-8") as f:
        f.write(json_format.MessageToJson(executor_output))


class ExecutorCall:
    """TFX entry point's arguments for one task, and where its ExecutorOutput goes afterwards.

    Besides the type and output fixes above: open-source KFP's driver names a file of the pod as the
    ExecutorOutput (``LocalPathForURI`` of the task root, ``/gcs/BUCKET/.../output_metadata.json``, since
    KFP 2.15; ``/tmp/kfp_outputs/output_metadata.json`` before), and TFX's entry point takes
    that file's folder as the task's root and its ``.temp`` as Beam's temporary folder, which
    Dataflow's, Flink's or Spark's workers cannot reach. TFX is given a file beside the outputs in
    the bucket instead, which is copied to the driver's file once the executor has finished.
    Artifacts in a ``LOCAL_COPY_SCHEMES`` store are the launcher's local copies (``local_copies``):
    there the driver's file stays, beside them.
    """

    def __init__(self, argv: List[str]):
        self.argv, input_paths = _take_paths(list(argv), INPUT_PATH_FLAG)
        self.argv, output_paths = _take_paths(self.argv, OUTPUT_PATH_FLAG)
        self.local_paths = (input_paths, output_paths)
        self.restore: Dict[str, str] = {}
        self.launcher_output_file: Optional[str] = None
        self.tfx_output_file: Optional[str] = None
        self.output_file: Optional[str] = None
        self.output_uris: List[str] = []
        inputs_spec = _flag_value(self.argv, INPUTS_SPEC_FLAG)
        for index, arg in enumerate(self.argv):
            if arg == INVOCATION_FLAG and index + 1 < len(self.argv):
                self.argv[index + 1] = self._fitted(self.argv[index + 1], inputs_spec)
            elif arg.startswith(INVOCATION_FLAG + "="):
                self.argv[index] = INVOCATION_FLAG + "=" + self._fitted(arg.split("=", 1)[1], inputs_spec)

    def _fitted(self, serialized: str, inputs_spec: Optional[str]) -> str:
        executor_input = _parse_executor_input(serialized)
        without_launcher_outputs(executor_input)
        if inputs_spec:
            with_input_types(executor_input, inputs_spec)
        self.restore = local_copies(executor_input, *self.local_paths)
        self.output_file = executor_input.outputs.output_file
        self.output_uris = [a.uri for artifacts in executor_input.outputs.artifacts.values() for a in artifacts.artifacts]
        # The folder the driver gave the outputs: ROOT/PIPELINE/RUN/TASK/UUID.
        task_root = self.output_uris[0].rsplit("/", 1)[0] if self.output_uris else ""
        given = executor_input.outputs.output_file
        # Over local copies TFX writes on the pod anyway: the driver's file stays (/tmp/kfp_outputs/... before KFP
        # 2.15), and the store URIs are restored in it.
        if task_root and given and not self.restore and given.rsplit("/", 1)[0] != task_root:
            self.launcher_output_file, self.tfx_output_file = given, f"{task_root}/{EXECUTOR_OUTPUT_FILE}"
            executor_input.outputs.output_file = self.tfx_output_file
        return json_format.MessageToJson(executor_input)

    def hand_back_output(self) -> None:
        """Copies the ExecutorOutput TFX wrote to the file the launcher reads, or restores the store URIs in it."""
        if not self.launcher_output_file:
            restore_output_uris(self.output_file, self.restore)
            return
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        if not tf.io.gfile.exists(self.tfx_output_file):
            raise RuntimeError(f"TFX's entry point finished without writing its ExecutorOutput {self.tfx_output_file}; "
                               f"the launcher would record no output. Fix: see the step's log above for the executor's "
                               f"own error.")
        tf.io.gfile.makedirs(self.launcher_output_file.rsplit("/", 1)[0])
        tf.io.gfile.copy(self.tfx_output_file, self.launcher_output_file, overwrite=True)


def delete_folder_markers(uris: List[str]) -> int:
    """Deletes the zero-byte ``folder/`` objects that ``tf.io.gfile.makedirs`` leaves in a bucket under each
    ``gs://`` URI; returns how many.

    Open-source KFP's launcher downloads every input artifact before a step runs and writes such a
    marker as an empty file, so that the next file under that folder fails with ``mkdir ...: not a
    directory`` (kubeflow/pipelines#13476: a SavedModel handed to the Evaluator and the Pusher). A
    bucket has no folders: TensorFlow and Beam find every file by its name without the markers.
    """
    gcs = [uri.rstrip("/") for uri in uris if uri.startswith("gs://")]
    if not gcs:
        return 0
    from google.cloud import storage  # pylint: disable=import-outside-toplevel

    client, deleted = storage.Client(), 0
    for uri in gcs:
        bucket, _, key = uri[len("gs://"):].partition("/")
        for blob in client.list_blobs(bucket, prefix=key + "/"):
            if blob.name.endswith("/") and not blob.size:
                blob.delete()
                deleted += 1
    return deleted


def _take_paths(argv: List[str], flag: str) -> Tuple[List[str], Dict[str, str]]:
    """``argv`` without the ``flag KEY=PATH`` pairs, and those pairs as a dict."""
    rest, paths = [], {}
    pairs = iter(argv)
    for arg in pairs:
        if arg == flag or arg.startswith(flag + "="):
            value = arg.split("=", 1)[1] if arg != flag else next(pairs, "")
            key, equals, path = value.partition("=")
            if not equals or not key or not path:
                raise ValueError(f"{flag} {value!r} is not KEY=PATH; the compiled step is damaged. Fix: compile the "
                                 f"pipeline again.")
            paths[key] = path
        else:
            rest.append(arg)
    return rest, paths


def _flag_value(argv: List[str], flag: str) -> Optional[str]:
    for index, arg in enumerate(argv):
        if arg == flag and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def run_executor(argv: List[str]) -> None:
    """Runs TFX's entry point in this process, then leaves without the interpreter's teardown.

    TFX 1.16 executors on TensorFlow 2.16 can abort at interpreter exit ("pure virtual method called",
    sky-uk/kfp-operator#1286) after they have written every output, which fails a finished step.
    Once the ExecutorOutput is where the launcher reads it, the process ends at once with status 0.
    """
    from absl import app  # pylint: disable=import-outside-toplevel
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor  # pylint: disable=import-outside-toplevel
    from pipeline.runners import direct_runner  # pylint: disable=import-outside-toplevel

    call = ExecutorCall(argv)
    # A step's Beam pipeline runs on the DirectRunner unless its Beam arguments name another runner.
    direct_runner.keep_every_element()

    def run_and_leave(parsed_argv) -> None:
        kubeflow_v2_run_executor.main(parsed_argv)
        try:
            markers = delete_folder_markers(call.output_uris)
        except Exception as err:  # pylint: disable=broad-except
            # Harmless where nothing downloads the outputs (Vertex AI); on open-source KFP the next step would fail.
            print(f"WARNING: could not delete the zero-byte folder markers under the outputs ({err}); open-source "
                  f"KFP's launcher would fail the next step on them (kubeflow/pipelines#13476). Fix: give the "
                  f"pipeline's service account storage.objects.delete on the bucket.", file=sys.stderr, flush=True)
            markers = 0
        if markers:
            print(f"Deleted {markers} zero-byte folder markers under the outputs (kubeflow/pipelines#13476).",
                  flush=True)
        call.hand_back_output()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # pylint: disable=protected-access

    # pylint: disable-next=protected-access
    app.run(run_and_leave, argv=[sys.argv[0], *call.argv], flags_parser=kubeflow_v2_run_executor._parse_flags)


def probe(serialized_executor_input: str) -> None:
    """Writes the probe's output parameters into the task's ExecutorOutput file."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel

    from components.example_gen.executor import resolve_input  # pylint: disable=import-outside-toplevel
    from components.served_model import served  # pylint: disable=import-outside-toplevel

    executor_input = json_format.Parse(serialized_executor_input, pipeline_spec_pb2.ExecutorInput(),
                                       ignore_unknown_fields=True)
    parameters = json_format.MessageToDict(executor_input.inputs)["parameterValues"]
    started = time.monotonic()
    resolved = resolve_input(parameters[PROBE_INPUT_BASE], parameters[PROBE_INPUT_CONFIG],
                             parameters.get(PROBE_CUSTOM_CONFIG))
    values = {
        PROBE_SPAN: resolved[PROBE_SPAN],
        PROBE_INPUT_FINGERPRINT: resolved[PROBE_INPUT_FINGERPRINT],
        PROBE_INPUT_CONFIG: resolved[PROBE_INPUT_CONFIG],
        PROBE_SERVED_VERSION: served.warm_start_version(parameters[PROBE_SERVING_MODEL_DIR],
                                                        resolved[PROBE_INPUT_FINGERPRINT]),
    }
    print(f"Input probe ({time.monotonic() - started:.1f} s): span {values[PROBE_SPAN]}, served version "
          f"{values[PROBE_SERVED_VERSION] or 'none'} (the newest not trained on this data), input fingerprint:\n"
          f"{values[PROBE_INPUT_FINGERPRINT]}", flush=True)
    output = pipeline_spec_pb2.ExecutorOutput()
    json_format.ParseDict({"parameterValues": values}, output)
    path = executor_input.outputs.output_file
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json_format.MessageToJson(output))


def main(argv: List[str]) -> int:
    if argv[:1] == ["executor"]:
        run_executor(argv[1:])
        return 0
    if argv[:1] == ["probe"]:
        parser = argparse.ArgumentParser(prog="python -m pipeline.runners.kfp_container probe")
        parser.add_argument("--executor_input", required=True)
        probe(parser.parse_args(argv[1:]).executor_input)
        return 0
    print("usage: python -m pipeline.runners.kfp_container {executor,probe} ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # The probe imports TensorFlow, TFX and Beam too: it ends as a step does, without the interpreter's teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # pylint: disable=protected-access

"""Container entry points of the compiled pipeline's steps on Kubeflow Pipelines and Vertex AI.

``python -m pipeline.runners.kfp_container executor --executor_class_path ... --json_serialized_invocation_args ...``
    TFX's own entry point (``kubeflow_v2_run_executor``), given the task's ``ExecutorInput``
    without the outputs the launcher adds for itself. Open-source KFP's driver adds an
    ``executor-logs`` output of type ``system.Artifact`` to every task when the API server runs
    with ``PUBLISH_LOGS=true``, its default (``backend/src/v2/driver/driver.go``,
    ``provisionOutputs``); TFX's entry point would try to import a class for that type and fail.
    The launcher itself writes the step's logs to that artifact (``launcher_v2.go``,
    ``getLogWriter``) and uploads it, so dropping it from what TFX sees loses nothing.

``python -m pipeline.runners.kfp_container probe --executor_input ...``
    The input probe: the first step of every run, never cached. It resolves what TFX's
    drivers would resolve before the cache is looked up, which open-source KFP never runs
    (``preCacheCheck`` hooks are Vertex AI's): the newest span, the input fingerprint and
    the resolved input patterns of the ExampleGen, and the version under the serving
    folder. The compiled spec passes them to the ExampleGen and the ServedModel steps as
    parameters, so that KFP's cache key (``backend/src/v2/cacheutils/cache.go``: the
    component, its parameters and input artifacts) changes exactly when the data or the
    served model does.
"""

import argparse
import sys
from typing import List

from google.protobuf import json_format

# Outputs typed in KFP's own schema namespace belong to the launcher: every TFX component types its
# outputs with its artifact class's name (tfx.Examples, imdb_embeddings.WordEmbedding, ...).
LAUNCHER_TYPE_PREFIX = "system."
INVOCATION_FLAG = "--json_serialized_invocation_args"

# The probe's inputs and outputs, named as the ExampleGen's and ServedModel's execution properties.
PROBE_INPUT_BASE = "input_base"
PROBE_INPUT_CONFIG = "input_config"
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


def without_launcher_outputs(serialized_executor_input: str) -> str:
    """The ExecutorInput without the output artifacts of KFP's ``system.*`` types."""
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel

    executor_input = json_format.Parse(serialized_executor_input, pipeline_spec_pb2.ExecutorInput(),
                                       ignore_unknown_fields=True)
    outputs = executor_input.outputs.artifacts
    for key in [key for key, artifacts in outputs.items()
                if any(_schema_title(a.type).startswith(LAUNCHER_TYPE_PREFIX) for a in artifacts.artifacts)]:
        del outputs[key]
    return json_format.MessageToJson(executor_input)


def executor_argv(argv: List[str]) -> List[str]:
    """TFX entry point's arguments, with the launcher's outputs taken out of the ExecutorInput."""
    argv = list(argv)
    for index, arg in enumerate(argv):
        if arg == INVOCATION_FLAG and index + 1 < len(argv):
            argv[index + 1] = without_launcher_outputs(argv[index + 1])
        elif arg.startswith(INVOCATION_FLAG + "="):
            argv[index] = INVOCATION_FLAG + "=" + without_launcher_outputs(arg.split("=", 1)[1])
    return argv


def run_executor(argv: List[str]) -> None:
    from absl import app  # pylint: disable=import-outside-toplevel
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor  # pylint: disable=import-outside-toplevel

    # pylint: disable-next=protected-access
    app.run(kubeflow_v2_run_executor.main, argv=[sys.argv[0], *executor_argv(argv)],
            flags_parser=kubeflow_v2_run_executor._parse_flags)


def probe(serialized_executor_input: str) -> None:
    """Writes the probe's output parameters into the task's ExecutorOutput file."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel

    from components.example_gen.executor import resolve_input  # pylint: disable=import-outside-toplevel
    from components.served_model import served  # pylint: disable=import-outside-toplevel

    executor_input = json_format.Parse(serialized_executor_input, pipeline_spec_pb2.ExecutorInput(),
                                       ignore_unknown_fields=True)
    parameters = json_format.MessageToDict(executor_input.inputs)["parameterValues"]
    resolved = resolve_input(parameters[PROBE_INPUT_BASE], parameters[PROBE_INPUT_CONFIG])
    values = {
        PROBE_SPAN: resolved[PROBE_SPAN],
        PROBE_INPUT_FINGERPRINT: resolved[PROBE_INPUT_FINGERPRINT],
        PROBE_INPUT_CONFIG: resolved[PROBE_INPUT_CONFIG],
        PROBE_SERVED_VERSION: served.latest_served_version(parameters[PROBE_SERVING_MODEL_DIR]),
    }
    print(f"Input probe: span {values[PROBE_SPAN]}, served version {values[PROBE_SERVED_VERSION] or 'none'}, "
          f"fingerprint {values[PROBE_INPUT_FINGERPRINT][:200]}", flush=True)
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
    sys.exit(main(sys.argv[1:]))

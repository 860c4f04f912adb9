"""The entry point of the compiled spec's containers (pipeline/runners/kfp_container.py): TFX's executor entry
point given the ExecutorInput as KFP's driver hands it over (launcher outputs, untyped inputs, the pod's output
file), and the input probe that resolves the span, the input fingerprint and the served version."""

import json
import os
import subprocess
import sys

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from components.example_gen import executor as example_gen_executor
from pipeline.runners import kfp_container
from tests import corpus, fake_gcs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_entry_point_drops_the_outputs_the_launcher_adds():
    executor_input = pipeline_spec_pb2.ExecutorInput()
    examples = executor_input.outputs.artifacts["examples"].artifacts.add(uri="gs://b/examples", name="examples")
    examples.type.instance_schema = "title: tfx.Examples\ntype: object\n"
    logs = executor_input.outputs.artifacts["executor-logs"].artifacts.add(uri="gs://b/logs", name="executor-logs")
    logs.type.schema_title = "system.Artifact"
    serialized = json_format.MessageToJson(executor_input)
    argv = kfp_container.ExecutorCall(["--executor_class_path", "x.Executor",
                                       "--json_serialized_invocation_args", serialized, "--runner=DirectRunner"]).argv
    kept = json_format.Parse(argv[3], pipeline_spec_pb2.ExecutorInput())
    assert list(kept.outputs.artifacts) == ["examples"]
    assert argv[:3] == ["--executor_class_path", "x.Executor", "--json_serialized_invocation_args"]
    assert argv[4:] == ["--runner=DirectRunner"]
    # TFX's own entry point fails on exactly that output: the wrapper is what makes the step run.
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils  # pylint: disable=import-outside-toplevel

    with pytest.raises(ImportError, match="system.Artifact"):
        kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(executor_input.outputs.artifacts, {})


def test_the_probe_resolves_the_span_fingerprint_and_served_version(tmp_path):
    for span in (1, 2):
        corpus.write_corpus(str(tmp_path / "spans" / f"span-{span}"), train_per_label=5, test_per_label=None, seed=span)
    (tmp_path / "serving" / "1700000000").mkdir(parents=True)
    (tmp_path / "serving" / "1700000000" / "saved_model.pb").write_bytes(b"model")
    executor_input = pipeline_spec_pb2.ExecutorInput()
    parameters = executor_input.inputs.parameter_values
    parameters[kfp_container.PROBE_INPUT_BASE].string_value = str(tmp_path / "spans")
    parameters[kfp_container.PROBE_INPUT_CONFIG].string_value = json_format.MessageToJson(
        example_gen_executor.make_input_config(False, spans=True))
    parameters[kfp_container.PROBE_SERVING_MODEL_DIR].string_value = str(tmp_path / "serving")
    executor_input.outputs.output_file = str(tmp_path / "task" / "output_metadata.json")
    assert kfp_container.main(["probe", "--executor_input", json_format.MessageToJson(executor_input)]) == 0
    with open(executor_input.outputs.output_file, encoding="utf-8") as f:
        values = json.load(f)["parameterValues"]
    assert values["span"] == 2 and values["served_version"] == "1700000000"
    assert values["input_fingerprint"].startswith("span-2/train/*/*.txt:files=11,bytes=")
    assert [split["pattern"] for split in json.loads(values["input_config"])["splits"]] == [
        "span-2/train/*/*.txt", "span-2/train/*/*.txt"]


def test_the_probe_leaves_an_excluded_span_out_of_the_window(tmp_path):
    from components.example_gen import EXCLUDE_MARKER  # pylint: disable=import-outside-toplevel

    for span in (1, 2, 3):
        corpus.write_corpus(str(tmp_path / "spans" / f"span-{span}"), train_per_label=5, test_per_label=None, seed=span)
    (tmp_path / "spans" / "span-3" / EXCLUDE_MARKER).write_text("wrong labels")
    resolved = example_gen_executor.resolve_input(
        str(tmp_path / "spans"), json_format.MessageToJson(example_gen_executor.make_input_config(False, spans=True)),
        json_format.MessageToJson(example_gen_executor.make_custom_config(20, window=3)))
    # The newest span left is 2; the window of 3 holds spans 1 and 2 only.
    assert resolved["span"] == 2
    assert [line.split(":")[0] for line in resolved["input_fingerprint"].splitlines()] == [
        "span-1/train/*/*.txt", "span-2/train/*/*.txt"]


def _untyped_input(tmp_path):
    """An ExecutorInput as open-source KFP's driver builds it for StatisticsGen (backend/src/v2: driver.go,
    provisionOutputs; metadata/client.go, GetOutputArtifactsByExecutionId with Schema ""; converter.go)."""
    executor_input = pipeline_spec_pb2.ExecutorInput()
    examples = executor_input.inputs.artifacts["examples"].artifacts.add(name="42", uri=str(tmp_path / "examples"))
    examples.type.instance_schema = ""
    json_format.ParseDict({"span": 3.0, "split_names": '["train","eval"]', "display_name": "examples",
                           "store_session_info": '{"Provider":"gs","Params":{"fromEnv":"true"}}'}, examples.metadata)
    root = tmp_path / "bucket" / "run" / "StatisticsGen" / "uuid"
    statistics = executor_input.outputs.artifacts["statistics"].artifacts.add(name="statistics",
                                                                            uri=str(root / "statistics"))
    statistics.type.instance_schema = "title: tfx.ExampleStatistics\ntype: object\n"
    executor_input.outputs.output_file = str(tmp_path / "pod" / "gcs" / "run" / "uuid" / "output_metadata.json")
    inputs_spec = {"artifacts": {"examples": {"artifactType": {"instanceSchema": "title: tfx.Examples\ntype: object\n"}}}}
    return executor_input, json.dumps(inputs_spec), str(root)


def test_untyped_inputs_get_their_declared_type_and_tfx_writes_beside_the_outputs(tmp_path):
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils  # pylint: disable=import-outside-toplevel

    executor_input, inputs_spec, task_root = _untyped_input(tmp_path)
    # tensorflow/tfx#7768: TFX's entry point alone fails on the driver's empty type.
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'get'"):
        kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(executor_input.inputs.artifacts, {})
    call = kfp_container.ExecutorCall(["--executor_class_path", "x.Executor", "--json_serialized_invocation_args",
                                       json_format.MessageToJson(executor_input),
                                       "--json_serialized_inputs_spec_args", inputs_spec])
    fitted = json_format.Parse(call.argv[3], pipeline_spec_pb2.ExecutorInput())
    (examples,) = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(fitted.inputs.artifacts, {})["examples"]
    assert examples.type_name == "Examples" and examples.span == 3 and examples.split_names == '["train","eval"]'
    # TFX takes the output file's folder for the task's root and Beam's temporary folder: the bucket's, not the pod's.
    assert fitted.outputs.output_file == f"{task_root}/executor_output.json"
    assert call.launcher_output_file == executor_input.outputs.output_file


def test_an_input_without_a_type_anywhere_is_a_clear_error(tmp_path):
    executor_input, _, _ = _untyped_input(tmp_path)
    with pytest.raises(ValueError, match="input artifact 'examples' arrived without a type and the component declares none"):
        kfp_container.ExecutorCall(["--json_serialized_invocation_args", json_format.MessageToJson(executor_input),
                                    "--json_serialized_inputs_spec_args", "{}"])


EXITING_EXECUTOR = """import atexit, json, os
from apache_beam.runners.portability.fn_api_runner import worker_handlers
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        (statistics,) = output_dict["statistics"]
        os.makedirs(statistics.uri, exist_ok=True)
        with open(os.path.join(statistics.uri, "seen.json"), "w") as f:
            json.dump({"input_type": input_dict["examples"][0].type_name, "span": input_dict["examples"][0].span,
                       # The DirectRunner's timed flushes, which the entry point turns off (direct_runner.py).
                       "direct_runner_flush_ms": worker_handlers.DATA_BUFFER_TIME_LIMIT_MS}, f)
        # What TFX 1.16 on TensorFlow 2.16 does at interpreter exit (sky-uk/kfp-operator#1286).
        atexit.register(os.abort)
"""


def test_a_finished_step_hands_its_output_to_the_launcher_and_is_not_failed_by_the_interpreters_exit(tmp_path):
    executor_input, inputs_spec, task_root = _untyped_input(tmp_path)
    (tmp_path / "executors").mkdir()
    (tmp_path / "executors" / "exiting_executor.py").write_text(EXITING_EXECUTOR)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "executors"), ROOT])}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.runners.kfp_container", "executor", "--executor_class_path",
         "exiting_executor.Executor", "--json_serialized_invocation_args", json_format.MessageToJson(executor_input),
         "--json_serialized_inputs_spec_args", inputs_spec], env=env, cwd=tmp_path, capture_output=True, text=True,
        check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(task_root, "statistics", "seen.json"), encoding="utf-8") as f:
        assert json.load(f) == {"input_type": "Examples", "span": 3, "direct_runner_flush_ms": 0}
    # The ExecutorOutput, written beside the outputs and handed to the pod's file the launcher reads.
    with open(executor_input.outputs.output_file, encoding="utf-8") as f:
        handed = json.load(f)
    with open(os.path.join(task_root, "executor_output.json"), encoding="utf-8") as f:
        assert json.load(f) == handed
    assert handed["artifacts"]["statistics"]["artifacts"][0]["uri"] == os.path.join(task_root, "statistics")


def test_the_folder_markers_under_the_outputs_are_deleted_and_nothing_else(monkeypatch):
    """kubeflow/pipelines#13476: the launcher writes a marker as a file, and the next download under it fails."""
    bucket = fake_gcs.Bucket()
    for name, size in (("root/run/Trainer/u/model/", 0), ("root/run/Trainer/u/model/Format-Serving/", 0),
                       ("root/run/Trainer/u/model/Format-Serving/saved_model.pb", 900),
                       ("root/run/Trainer/u/model/Format-Serving/variables/", 0),
                       ("root/run/Trainer/u/model/Format-Serving/variables/variables.index", 40),
                       ("root/run/Trainer/u/model/Format-Serving/empty.txt", 0),
                       ("root/run/Trainer/u/model_run/", 0), ("root/run/Transform/u/transform_graph/", 0)):
        bucket.put(name, size)
    fake_gcs.install(monkeypatch, b=bucket)
    assert kfp_container.delete_folder_markers(["gs://b/root/run/Trainer/u/model", "/tmp/local/x"]) == 3
    assert sorted(bucket.objects) == [
        "root/run/Trainer/u/model/Format-Serving/empty.txt", "root/run/Trainer/u/model/Format-Serving/saved_model.pb",
        "root/run/Trainer/u/model/Format-Serving/variables/variables.index",
        "root/run/Trainer/u/model_run/", "root/run/Transform/u/transform_graph/"]

"""Help, option errors, `runs` and `predict`/`evaluate` without a model answer without loading TensorFlow or TFX (the benchmark times them)."""

import os
import subprocess
import sys

import pytest

from pipeline.definition import nodes
from pipeline.records import history, metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHECK = """
import sys
from pipeline import cli
code = cli.main(sys.argv[1:])
heavy = sorted(m for m in ("tensorflow", "tfx", "tensorflow_data_validation", "google.cloud.aiplatform_v1")
               if m in sys.modules)
print(code, ",".join(heavy) or "-")
"""


@pytest.mark.parametrize("argv", [
    ["run", "--epochs", "-1"],
    ["compile", "--image", "i", "--pipeline-root", "r", "--data-root", "d", "--accuracy-floor", "2"],
    ["retrain", "--data-dir", "/nowhere", "--window", "0"],
    ["evaluate", "--data-dir", "/nowhere", "--eval-percent", "0"],
    ["run", "--data-dir", "/nowhere"],
    ["run", "--beam-arg=--runner=apache_beam.runners.dask.dask_runner.DaskRunner"],
    ["run", "--word2vec", "--word-pairs-file", "/nowhere/wordsim353.tsv"],
    ["compile", "--target", "vertex", "--image", "i", "--pipeline-root", "gs://b/r", "--data-root", "gs://b/d",
     "--gpu", "1", "--gpu-type", "NVIDIA_NOPE", "--no-spans", "--no-test-split"],
])
def test_option_errors_load_no_tensorflow(argv):
    result = subprocess.run([sys.executable, "-c", _CHECK, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["2", "-"], result.stdout + result.stderr


def test_predict_without_a_served_model_loads_no_tensorflow(tmp_path):
    (tmp_path / "not_a_model").mkdir()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"graph")
    for argv in (["predict", "--output-dir", str(tmp_path / "empty"), "a fine film"],
                 ["predict", "--model", str(tmp_path / "missing"), "a fine film"],
                 ["predict", "--model", str(tmp_path / "not_a_model"), "a fine film"],
                 ["evaluate", "--output-dir", str(tmp_path / "empty"), "--data-dir", str(tmp_path)],
                 # A model, but no test/ to evaluate it on.
                 ["evaluate", "--model", str(tmp_path / "model"), "--data-dir", str(tmp_path)]):
        result = subprocess.run([sys.executable, "-c", _CHECK, *argv], cwd=ROOT, capture_output=True, text=True,
                                timeout=120)
        assert result.stdout.split() == ["2", "-"], result.stdout + result.stderr
        assert "Fix:" in result.stderr


def test_runs_loads_no_tensorflow(tmp_path):
    (tmp_path / "out").mkdir()
    result = subprocess.run([sys.executable, "-c", _CHECK, "runs", "--output-dir", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.split()[-2:] == ["2", "-"], result.stdout + result.stderr  # no runs there: exit 2


# What other rooms import of a component or runner to name its keys, files and settings: none may load
# TensorFlow or TFX, so that the command line answers before it does.
CONTRACT_MODULES = ("components.example_gen", "components.model", "components.model.features",
                    "components.model.hparams", "components.projector", "components.served_model",
                    "components.validation", "components.word2vec", "pipeline.data", "pipeline.definition.settings",
                    "pipeline.runners.backend_spec", "pipeline.runners.pod_resources", "pipeline.runners.run_parameters")


def test_contract_modules_load_no_tensorflow():
    check = ("import importlib, sys\n"
             f"for name in {CONTRACT_MODULES!r}:\n"
             "    importlib.import_module(name)\n"
             "print(sorted(m for m in ('tensorflow', 'tfx', 'tensorflow_transform') if m in sys.modules) or '-')")
    result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["-"], result.stdout + result.stderr


def test_property_names_are_tfxs():
    from tfx.components.evaluator import constants
    from tfx.types import standard_component_specs

    assert metadata.BLESSED_PROPERTY == constants.ARTIFACT_PROPERTY_BLESSED_KEY
    assert history.INPUT_BASE_PROPERTY == standard_component_specs.INPUT_BASE_KEY
    from tfx.components.pusher import executor as pusher  # private names: pinned so that an upgrade shows here
    assert (history.PUSHED_PROPERTY, history.PUSHED_VERSION_PROPERTY) == (
        pusher._PUSHED_KEY, pusher._PUSHED_VERSION_KEY)  # pylint: disable=protected-access


def test_output_keys_are_tfxs():
    from tfx.types import standard_component_specs as specs

    assert (nodes.EXAMPLES_OUTPUT, nodes.STATISTICS_OUTPUT, nodes.TRANSFORM_GRAPH_OUTPUT, nodes.MODEL_OUTPUT,
            nodes.MODEL_RUN_OUTPUT, nodes.EVALUATION_OUTPUT, nodes.BLESSING_OUTPUT, nodes.PUSHED_MODEL_OUTPUT) == (
        specs.EXAMPLES_KEY, specs.STATISTICS_KEY, specs.TRANSFORM_GRAPH_KEY, specs.MODEL_KEY,
        specs.MODEL_RUN_KEY, specs.EVALUATION_KEY, specs.BLESSING_KEY, specs.PUSHED_MODEL_KEY)
    # And the components that give them declare them so.
    assert specs.EVALUATION_KEY in specs.EvaluatorSpec.OUTPUTS and specs.BLESSING_KEY in specs.EvaluatorSpec.OUTPUTS
    assert specs.MODEL_RUN_KEY in specs.TrainerSpec.OUTPUTS


def test_every_execution_state_of_ml_metadata_has_a_name():
    from ml_metadata.proto import metadata_store_pb2

    states = metadata_store_pb2.Execution.State
    assert set(metadata.EXECUTION_STATES) == set(states.values()) - {states.UNKNOWN}
    assert metadata.EXECUTION_STATES[states.COMPLETE] == "ran" and metadata.EXECUTION_STATES[states.CACHED] == "cached"
    assert len(set(metadata.EXECUTION_STATES.values())) == len(metadata.EXECUTION_STATES)

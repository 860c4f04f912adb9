"""Help, option errors and `runs` answer without loading TensorFlow or TFX (the benchmark times them)."""

import os
import subprocess
import sys

import pytest

from pipeline import history, metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHECK = """
import sys
from pipeline import cli
code = cli.main(sys.argv[1:])
heavy = sorted(m for m in ("tensorflow", "tfx", "tensorflow_data_validation") if m in sys.modules)
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
])
def test_option_errors_load_no_tensorflow(argv):
    result = subprocess.run([sys.executable, "-c", _CHECK, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["2", "-"], result.stdout + result.stderr


def test_runs_loads_no_tensorflow(tmp_path):
    (tmp_path / "out").mkdir()
    result = subprocess.run([sys.executable, "-c", _CHECK, "runs", "--output-dir", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.split()[-2:] == ["2", "-"], result.stdout + result.stderr  # no runs there: exit 2


def test_property_names_are_tfxs():
    from tfx.components.evaluator import constants
    from tfx.types import standard_component_specs

    assert metadata.BLESSED_PROPERTY == constants.ARTIFACT_PROPERTY_BLESSED_KEY
    assert history.INPUT_BASE_PROPERTY == standard_component_specs.INPUT_BASE_KEY

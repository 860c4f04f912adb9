"""What the Kubeflow test modules share: the checkout's root, small hparams, the settings of a compile, the
spec those modules compile once each (test_kubeflow_compile.py, test_kubeflow_client.py), and the environment of
an emulated task (test_kubeflow_run.py, test_vertex_run.py)."""

import json
import os
import subprocess
import sys
from typing import Optional

from components.model.hparams import HParams
from pipeline.definition.data_shape import DataShape
from pipeline.definition.settings import PipelineSettings
from pipeline.runners import kubeflow_runner, locations

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=25, batch_size=32, learning_rate=0.01)


def kubeflow_settings(**overrides):
    values = dict(target="kubeflow", image="registry.example/imdb-embeddings:1", pipeline_root="gs://bucket/root",
                  data_root="gs://bucket/aclImdb", serving_model_dir="gs://bucket/serving_model")
    shape = {name: overrides.pop(name) for name in ("spans", "test_split", "unsup_split") if name in overrides}
    values["data_shape"] = DataShape(**{"test_split": True, **shape})
    values.update(overrides)
    return kubeflow_runner.KubeflowSettings(**values)


def compile_spans_pipeline(tmp_path_factory):
    """The spans pipeline compiled for the `kubeflow` target: (its settings, the path of the spec). For a
    module-scoped `compiled` fixture."""
    tmp_path = tmp_path_factory.mktemp("kfp")
    kubeflow = kubeflow_settings(spans=True)
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(probe_words=("wonderful", "awful")), kubeflow,
                                              str(tmp_path / "pipeline.yaml"))
    return kubeflow, output


PROBE_PATHS = """import json, sys, components, imdb_embeddings, pipeline
print(json.dumps({"path": sys.path, "files": [components.__file__, imdb_embeddings.__file__, pipeline.__file__],
                  "finders": [getattr(f, "__module__", "") for f in sys.meta_path]}))
"""


def task_environment(work) -> dict:
    """The environment of each emulated task: the project installed (not linked) into ``work``, as the image has it;
    checked to import nothing of the checkout."""
    from tests import isolation  # pylint: disable=import-outside-toplevel

    site = isolation.install_copy(str(work))
    harness = isolation.no_checkout_harness(str(work / "harness"))
    env = {
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([site, harness]),
        "HOME": str(work), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
    }
    empty = work / "empty"
    empty.mkdir()
    seen = json.loads(subprocess.run(["python", "-c", PROBE_PATHS], env=env, cwd=empty, capture_output=True,
                                     text=True, check=True).stdout.splitlines()[-1])
    assert all(path.startswith(site) for path in seen["files"]), seen["files"]
    assert not [finder for finder in seen["finders"] if finder.startswith("__editable__")]
    # The dependencies' environment (CI's venv lies inside the checkout) is the image's site-packages.
    assert not [entry for entry in seen["path"] if entry.startswith(ROOT) and not entry.startswith(sys.prefix)]
    return env


# The claim the emulated runs over an S3 store mount, where their data and serving folder are.
VOLUME_CLAIM = "imdb-data"


def compile_over_spans_for_emulation(folder, target: str, hparams: HParams, settings: PipelineSettings,
                                     pipeline_root: Optional[str] = None) -> str:
    """The pipeline over ``folder/spans``, serving into ``folder/serving_model``, compiled for ``target``; returns the
    path. With ``pipeline_root`` (``minio://`` or ``s3://``), as a cluster runs it: ``folder`` is a volume every
    step mounts. Without, a local folder stands in for a Cloud Storage bucket (the emulation's departure from a
    cluster: no GCS server here)."""
    import pytest  # pylint: disable=import-outside-toplevel

    common = dict(target=target, image="registry.example/imdb-embeddings:1", data_root=str(folder / "spans"),
                  serving_model_dir=str(folder / "serving_model"), data_shape=DataShape(spans=True))
    output = str(folder / f"pipeline{kubeflow_runner.TARGETS[target]}")
    if pipeline_root:
        kubeflow = kubeflow_runner.KubeflowSettings(pipeline_root=pipeline_root, volumes={VOLUME_CLAIM: str(folder)},
                                                    **common)
        return kubeflow_runner.compile_pipeline(hparams, settings, kubeflow, output)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(locations, "WRITABLE_SCHEMES", ("gs://", str(folder)))
        patch.setitem(locations.PIPELINE_ROOT_SCHEMES, target, ("gs://", str(folder)))
        kubeflow = kubeflow_runner.KubeflowSettings(pipeline_root=str(folder / "root"), **common)
        return kubeflow_runner.compile_pipeline(hparams, settings, kubeflow, output)


def run_and_record(emulation, serving: str, label: str) -> tuple:
    """Runs one emulated run and prints its steps' seconds; returns (the emulation, the serving folder's files before,
    and after)."""
    from tests import isolation  # pylint: disable=import-outside-toplevel

    before = isolation.tree_bytes(serving)
    emulation.run()
    seconds = json.dumps({k: round(v, 1) for k, v in emulation.seconds.items()})
    print(f"{label}: seconds", seconds, "cached", emulation.cached)
    return emulation, before, isolation.tree_bytes(serving)

"""The compiled open-source KFP spec, run as Kubeflow Pipelines would (``tests/kfp_launcher.py``): three
scheduled runs over spans and a fourth with nothing new, each task in an empty working directory with the
project imported from an installed copy.

Span 1 is pushed; span 2 is read anew (the input probe's fingerprint changes the ExampleGen's cache key),
warm-started from span 1's model and pushed; span 3 has every train label flipped and is refused, the
serving folder untouched; the fourth run finds nothing new and every step but the probe comes from the cache.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_transform as tft

from components.model import TRAINING_SUMMARY_FILE, features
from components.model.hparams import HParams
from components.projector import projector
from pipeline.definition import nodes
from pipeline.definition.data_shape import DataShape
from pipeline.definition.settings import PipelineSettings
from pipeline.runners import kubeflow_runner
from tests import corpus, isolation, kfp_launcher

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=20, batch_size=32, learning_rate=0.01)
PER_LABEL = 100
PROBE_PATHS = """import json, sys, components, imdb_embeddings, pipeline
print(json.dumps({"path": sys.path, "files": [components.__file__, imdb_embeddings.__file__, pipeline.__file__],
                  "finders": [getattr(f, "__module__", "") for f in sys.meta_path]}))
"""


@pytest.fixture(scope="module")
def task_env(tmp_path_factory):
    """The environment of each task: the project installed (not linked) into a folder of its own."""
    work = tmp_path_factory.mktemp("image")
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


@pytest.fixture(scope="module")
def schedule(tmp_path_factory, task_env):
    tmp = tmp_path_factory.mktemp("kfp-run")
    data_root, serving = str(tmp / "spans"), str(tmp / "serving_model")
    with pytest.MonkeyPatch.context() as patch:
        # The one departure from a cluster: a local folder stands in for the bucket.
        patch.setattr(kubeflow_runner, "WRITABLE_SCHEMES", ("gs://", str(tmp)))
        kubeflow = kubeflow_runner.KubeflowSettings(
            target="kubeflow", image="registry.example/imdb-embeddings:1", pipeline_root=str(tmp / "root"),
            data_root=data_root, serving_model_dir=serving, data_shape=DataShape(spans=True))
        output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(probe_words=("wonderful", "awful")),
                                                  kubeflow, str(tmp / "pipeline.yaml"))
    spec = kfp_launcher.load_pipeline_spec(output)
    cluster = kfp_launcher.Cluster()
    runs = []
    for span in (1, 2, 3, None):
        if span:
            corpus.write_corpus(os.path.join(data_root, f"span-{span}"), train_per_label=PER_LABEL, test_per_label=None,
                                seed=span, flip_train_labels=span == 3)
        before = isolation.tree_bytes(serving)
        emulation = kfp_launcher.LauncherEmulation(spec, cluster, task_env, run_id=f"run-{len(runs) + 1}",
                                                   work_dir=str(tmp / "pods"))
        emulation.run()
        print(f"run {len(runs) + 1}: seconds", json.dumps({k: round(v, 1) for k, v in emulation.seconds.items()}),
              "cached", emulation.cached)
        runs.append((emulation, before, isolation.tree_bytes(serving)))
    return spec, serving, runs


def _versions(tree):
    """The version folders of a serving folder's listing."""
    return {path.split(os.sep)[0] for path in tree}


def _first_version(runs):
    return runs[0][0].output_metadata(nodes.PUSHER, "pushed_model")["pushed_version"]


def _training_summary(emulation):
    (model_run,) = emulation.outputs[nodes.TRAINER]["model_run"]
    with open(os.path.join(model_run.uri, TRAINING_SUMMARY_FILE), encoding="utf-8") as f:
        return json.load(f)


def test_outputs_follow_the_launchers_layout_and_every_task_kept_its_logs(schedule):
    spec, _, runs = schedule
    emulation = runs[0][0]
    assert spec.default_pipeline_root and emulation.pipeline_root == spec.default_pipeline_root
    assert emulation.cached == [] and set(emulation.seconds) == set(spec.root.dag.tasks)
    for task, outputs in emulation.outputs.items():
        for key, (artifact,) in outputs.items():
            parts = os.path.relpath(artifact.uri, spec.default_pipeline_root).split(os.sep)
            assert parts[:3] == [spec.pipeline_info.name, "run-1", task] and parts[4:] == [key]
        # The launcher's own output, which TFX's entry point alone would refuse to start with.
        (logs,) = outputs[kfp_launcher.LOGS_KEY]
        with open(logs.uri, encoding="utf-8") as f:
            assert f.read().strip()


def test_span_1_is_resolved_without_a_driver_trained_from_scratch_and_pushed(schedule):
    _, _, runs = schedule
    emulation, before, after = runs[0]
    examples = emulation.output_metadata(nodes.EXAMPLE_GEN, "examples")
    # "custom:": TFX's name for a custom property whose name an artifact property has too.
    assert examples["custom:span"] == 1 and "split:train,num_files:201," in examples["input_fingerprint"]
    assert json.loads(examples["split_names"]) == ["train", "eval"]
    assert emulation.output_parameters[nodes.INPUT_PROBE]["span"] == 1
    assert emulation.output_metadata(nodes.SERVED_MODEL, "model")["served_version"] == ""
    assert _training_summary(emulation)["warm_start"]["source"] is None
    assert emulation.output_metadata(nodes.EVALUATOR, "blessing")["blessed"] == 1
    assert emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed"] == 1
    assert before == {} and _versions(after) == {_first_version(runs)}

    (transform_graph,) = emulation.outputs[nodes.TRANSFORM]["transform_graph"]
    vocabulary = tft.TFTransformOutput(transform_graph.uri).vocabulary_by_name(features.VOCABULARY_NAME)
    (projector_files,) = emulation.outputs[nodes.PROJECTOR_EXPORTER]["projector"]
    labels = projector.read_metadata_labels(os.path.join(projector_files.uri, projector.METADATA_FILE))
    vectors = np.loadtxt(os.path.join(projector_files.uri, projector.VECTORS_FILE), delimiter="\t")
    assert labels == [features.OOV_TOKEN] + [token.decode() for token in vocabulary]
    assert vectors.shape == (len(labels), HPARAMS.embedding_dim)


def test_span_2_is_read_anew_warm_started_from_span_1s_model_and_pushed(schedule):
    _, _, runs = schedule
    emulation, before, after = runs[1]
    first = _first_version(runs)
    assert nodes.EXAMPLE_GEN not in emulation.cached and nodes.TRAINER not in emulation.cached
    assert nodes.SCHEMA_GEN in emulation.cached  # nothing of its input changed
    examples = emulation.output_metadata(nodes.EXAMPLE_GEN, "examples")
    assert examples["custom:span"] == 2
    assert examples["input_fingerprint"] != runs[0][0].output_metadata(nodes.EXAMPLE_GEN, "examples")["input_fingerprint"]
    assert emulation.output_metadata(nodes.SERVED_MODEL, "model")["served_version"] == first
    warm = _training_summary(emulation)["warm_start"]
    (served_model,) = emulation.outputs[nodes.SERVED_MODEL]["model"]
    assert warm["source"] == os.path.join(served_model.uri, "Format-Serving") and warm["rows_carried"] > 0
    assert emulation.output_metadata(nodes.BASELINE_MODEL, "model")["served_version"] == first
    assert emulation.output_metadata(nodes.EVALUATOR, "blessing")["blessed"] == 1
    assert emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed"] == 1
    second = emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed_version"]
    assert set(before) < set(after) and _versions(after) == {first, second}


def test_span_3_with_flipped_labels_is_refused_and_the_serving_folder_kept(schedule):
    _, _, runs = schedule
    emulation, before, after = runs[2]
    assert emulation.output_metadata(nodes.EXAMPLE_GEN, "examples")["custom:span"] == 3
    assert emulation.output_metadata(nodes.EVALUATOR, "blessing")["blessed"] == 0
    assert emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed"] == 0
    assert after == before  # byte for byte


def test_a_run_with_nothing_new_comes_from_the_cache_but_for_the_probe(schedule):
    spec, _, runs = schedule
    emulation, before, after = runs[3]
    assert list(emulation.seconds) == [nodes.INPUT_PROBE]
    assert set(emulation.cached) == set(spec.root.dag.tasks) - {nodes.INPUT_PROBE}
    assert after == before

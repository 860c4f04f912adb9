"""The compiled open-source KFP spec, run as Kubeflow Pipelines would (``tests/kfp_launcher.py``): a schedule of
seven runs over spans, each task in an empty working directory with the project imported from an installed copy,
every artifact handed to the next task through ML Metadata, untyped, as KFP's driver hands it over.

As a default install keeps them: the artifacts in MinIO (``minio://mlpipeline/v2/artifacts``, an S3 API server on
loopback), which the launcher copies to and from each task's pod; the data and the serving folder on a volume every
step mounts.

Span 1 is pushed; a run with nothing new; span 2 is read anew (the probe's fingerprint of the window changes the
ExampleGen's cache key), warm-started from span 1's model and pushed; two runs with nothing new; span 3 has every
train label flipped and is refused, the serving folder untouched; a last run with nothing new. A run with nothing
new, also right after a push, comes from the cache but for the probe: it trains nothing and pushes nothing.
"""

import json
import os

import numpy as np
import pytest
import tensorflow_transform as tft

from components.model import TRAINING_SUMMARY_FILE, features
from components.model.hparams import HParams
from components.projector import projector
from components.served_model import served
from pipeline.definition import nodes
from pipeline.definition.settings import PipelineSettings
from tests import corpus, kfp_launcher, kubeflow_fixtures, object_store

pytestmark = pytest.mark.e2e

HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=20, batch_size=32, learning_rate=0.01)
PER_LABEL = 100
# The schedule: a new span's number, or None for a run with nothing new.
SCHEDULE = (1, None, 2, None, None, 3, None)


# The default install's pipeline root (the kfp-launcher ConfigMap's defaultPipelineRoot).
PIPELINE_ROOT = "minio://mlpipeline/v2/artifacts"


@pytest.fixture(scope="module")
def schedule(tmp_path_factory):
    volume = tmp_path_factory.mktemp("kfp-run")
    pods = tmp_path_factory.mktemp("pods")
    task_env = kubeflow_fixtures.task_environment(tmp_path_factory.mktemp("image"))
    data_root, serving = str(volume / "spans"), str(volume / "serving_model")
    output = kubeflow_fixtures.compile_over_spans_for_emulation(
        volume, "kubeflow", HPARAMS, PipelineSettings(probe_words=("wonderful", "awful")), pipeline_root=PIPELINE_ROOT)
    spec, platform = kfp_launcher.load_package(output)
    cluster = kfp_launcher.Cluster()
    store = object_store.S3Server()
    bucket = object_store.Bucket(store.client(), "mlpipeline").create()
    zygote = kfp_launcher.TaskZygote(task_env, str(pods / "zygote"))
    runs = []
    try:
        for span in SCHEDULE:
            if span:
                corpus.write_corpus(os.path.join(data_root, f"span-{span}"), train_per_label=PER_LABEL,
                                    test_per_label=None, seed=span, flip_train_labels=span == 3)
            emulation = kfp_launcher.LauncherEmulation(spec, cluster, task_env, run_id=f"run-{len(runs) + 1}",
                                                       work_dir=str(pods), zygote=zygote, store=store,
                                                       platform=platform)
            runs.append(kubeflow_fixtures.run_and_record(emulation, serving, f"run {len(runs) + 1}"))
        yield spec, serving, runs, bucket
    finally:
        zygote.close()
        store.stop()


def _versions(tree):
    """The version folders of a serving folder's listing."""
    return {path.split(os.sep)[0] for path in tree}


def _pushed_version(emulation):
    return emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed_version"]


def _training_summary(emulation):
    (model_run,) = emulation.outputs[nodes.TRAINER]["model_run"]
    with open(os.path.join(emulation.readable(model_run.uri), TRAINING_SUMMARY_FILE), encoding="utf-8") as f:
        return json.load(f)


def test_outputs_follow_the_launchers_layout_in_the_store_and_every_task_kept_its_logs(schedule):
    spec, _, runs, bucket = schedule
    emulation = runs[0][0]
    assert spec.default_pipeline_root == PIPELINE_ROOT and emulation.pipeline_root == PIPELINE_ROOT
    assert emulation.cached == [] and set(emulation.seconds) == set(spec.root.dag.tasks)
    for task, outputs in emulation.outputs.items():
        for key, (artifact,) in outputs.items():
            # ML Metadata holds the store's URI, not the pod's copy the step wrote.
            assert artifact.uri.startswith(PIPELINE_ROOT + "/"), artifact.uri
            parts = artifact.uri[len(PIPELINE_ROOT) + 1:].split("/")
            assert parts[:3] == [spec.pipeline_info.name, "run-1", task] and parts[4:] == [key]
        # The launcher's own output, which TFX's entry point alone would refuse to start with.
        (logs,) = outputs[kfp_launcher.LOGS_KEY]
        with open(emulation.readable(logs.uri), encoding="utf-8") as f:
            assert f.read().strip()
    # Every file TFX wrote on the pod was uploaded: the model's SavedModel, for one.
    (model,) = emulation.outputs[nodes.TRAINER]["model"]
    uploaded = bucket.keys(object_store.split_uri(model.uri)[1] + "/")
    assert any(key.endswith("/Format-Serving/saved_model.pb") for key in uploaded), uploaded[:5]


def test_every_input_arrived_untyped_through_ml_metadata_and_the_output_file_was_the_pods(schedule):
    _, _, runs, _ = schedule
    emulation = runs[0][0]
    statistics_gen = emulation.executor_inputs[nodes.STATISTICS_GEN]
    (examples,) = statistics_gen.inputs.artifacts["examples"].artifacts
    # tensorflow/tfx#7768's condition: what the driver reads back from ML Metadata, type and all.
    assert examples.type.WhichOneof("kind") == "instance_schema" and examples.type.instance_schema == ""
    assert examples.name.isdigit() and examples.metadata["display_name"] == "examples"
    assert examples.metadata["custom:span"] == 1.0  # an int custom property comes back a double
    # The ExecutorOutput file the driver names is a path of the pod, not of the bucket.
    assert statistics_gen.outputs.output_file.startswith(emulation.work_dir)
    for task, executor_input in emulation.executor_inputs.items():
        for key, artifacts in executor_input.inputs.artifacts.items():
            assert all(a.type.instance_schema == "" for a in artifacts.artifacts), (task, key)


def test_span_1_is_resolved_without_a_driver_trained_from_scratch_and_pushed(schedule):
    _, serving, runs, _ = schedule
    emulation, before, after = runs[0]
    examples = emulation.output_metadata(nodes.EXAMPLE_GEN, "examples")
    # "custom:": TFX's name for a custom property whose name an artifact property has too.
    assert examples["custom:span"] == 1 and examples["input_fingerprint"].startswith(
        "span-1/train/*/*.txt:files=201,")
    assert json.loads(examples["split_names"]) == ["train", "eval"]
    assert emulation.output_parameters[nodes.INPUT_PROBE]["span"] == 1
    assert emulation.output_metadata(nodes.SERVED_MODEL, "model")["served_version"] == ""
    assert _training_summary(emulation)["warm_start"]["source"] is None
    assert emulation.output_metadata(nodes.EVALUATOR, "blessing")["blessed"] == 1
    assert emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed"] == 1
    first = _pushed_version(emulation)
    assert before == {} and _versions(after) == {first}
    # The pushed version records the data it was trained on: the probe's fingerprint of the window.
    assert served.trained_on(os.path.join(serving, first)) == examples["input_fingerprint"]

    (transform_graph,) = emulation.outputs[nodes.TRANSFORM]["transform_graph"]
    vocabulary = tft.TFTransformOutput(emulation.readable(transform_graph.uri)).vocabulary_by_name(
        features.VOCABULARY_NAME)
    (projector_files,) = emulation.outputs[nodes.PROJECTOR_EXPORTER]["projector"]
    projector_folder = emulation.readable(projector_files.uri)
    labels = projector.read_metadata_labels(os.path.join(projector_folder, projector.METADATA_FILE))
    vectors = np.loadtxt(os.path.join(projector_folder, projector.VECTORS_FILE), delimiter="\t")
    assert labels == [features.OOV_TOKEN] + [token.decode() for token in vocabulary]
    assert vectors.shape == (len(labels), HPARAMS.embedding_dim)


def test_span_2_is_read_anew_warm_started_from_span_1s_model_and_pushed(schedule):
    _, _, runs, _ = schedule
    emulation, before, after = runs[2]
    first = _pushed_version(runs[0][0])
    assert nodes.EXAMPLE_GEN not in emulation.cached and nodes.TRAINER not in emulation.cached
    assert nodes.SCHEMA_GEN in emulation.cached  # nothing of its input changed
    examples = emulation.output_metadata(nodes.EXAMPLE_GEN, "examples")
    assert examples["custom:span"] == 2
    # The window (3 spans by default) holds spans 1 and 2: both fingerprinted.
    assert [line.split(":files=")[0] for line in examples["input_fingerprint"].splitlines()] == [
        "span-1/train/*/*.txt", "span-2/train/*/*.txt"]
    assert emulation.output_metadata(nodes.SERVED_MODEL, "model")["served_version"] == first
    warm = _training_summary(emulation)["warm_start"]
    (served_model,) = emulation.outputs[nodes.SERVED_MODEL]["model"]
    # The Trainer read the launcher's copy of the ServedModel's output on its own pod.
    trainer_pod = os.path.join(emulation.work_dir, f"{emulation.run_id}-{nodes.TRAINER}")
    assert warm["source"] == trainer_pod + kfp_launcher.local_path_for_uri(served_model.uri) + "/Format-Serving"
    assert warm["rows_carried"] > 0
    assert emulation.output_metadata(nodes.BASELINE_MODEL, "model")["served_version"] == first
    assert emulation.output_metadata(nodes.EVALUATOR, "blessing")["blessed"] == 1
    assert emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed"] == 1
    second = _pushed_version(emulation)
    assert set(before) < set(after) and _versions(after) == {first, second}


def test_span_3_with_flipped_labels_is_refused_and_the_serving_folder_kept(schedule):
    _, _, runs, _ = schedule
    emulation, before, after = runs[5]
    assert emulation.output_metadata(nodes.EXAMPLE_GEN, "examples")["custom:span"] == 3
    # Warm-started from span 2's model, the newest served one, which was not trained on this window.
    assert emulation.output_metadata(nodes.SERVED_MODEL, "model")["served_version"] == _pushed_version(runs[2][0])
    assert emulation.output_metadata(nodes.EVALUATOR, "blessing")["blessed"] == 0
    assert emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed"] == 0
    assert after == before  # byte for byte


@pytest.mark.parametrize("run", [index for index, span in enumerate(SCHEDULE) if span is None])
def test_a_run_with_nothing_new_trains_nothing_and_pushes_nothing_also_right_after_a_push(schedule, run):
    spec, _, runs, _ = schedule
    emulation, before, after = runs[run]
    assert list(emulation.seconds) == [nodes.INPUT_PROBE]
    assert set(emulation.cached) == set(spec.root.dag.tasks) - {nodes.INPUT_PROBE}
    # The probe ran anew (its run id input), and found the served version the run before it trained from.
    assert emulation.output_parameters[nodes.INPUT_PROBE] == runs[run - 1][0].output_parameters[nodes.INPUT_PROBE]
    assert after == before  # the serving folder byte for byte

"""End-to-end: the whole pipeline with LocalDagRunner on a generated aclImdb corpus."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.model import features, trainer
from components.model.hparams import HParams
from components.projector import projector
from pipeline import data, local_runner, metadata
from tests import corpus

pytestmark = pytest.mark.e2e

TRAIN_PER_LABEL, TEST_PER_LABEL = 150, 40
# Small settings for a small corpus; the tutorial's batch of 1024 would be one step per epoch.
HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=25, batch_size=32, learning_rate=0.01)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("data") / "aclImdb")
    corpus.write_corpus(root, train_per_label=TRAIN_PER_LABEL, test_per_label=TEST_PER_LABEL, seed=1)
    settings = local_runner.RunSettings(
        data_dir=data.check_dataset_dir(root),
        output_dir=str(tmp_path_factory.mktemp("output")),
        hparams=HPARAMS,
        probe_words=("wonderful", "awful"),
    )
    return settings, local_runner.run_local(settings)


def _outputs(report, node_id, key):
    (run,) = [c for c in report.components if c.node_id == node_id]
    return run.outputs[key]


def _read_split(examples_uri, split):
    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz"))
    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_every_component_ran(finished_run):
    _, report = finished_run
    assert [(c.node_id, c.state) for c in report.components] == [
        ("AclImdbExampleGen", "ran"), ("ImportSchemaGen", "ran"), ("Transform", "ran"),
        ("Trainer", "ran"), ("ProjectorExporter", "ran"), ("Pusher", "ran"),
    ]


def test_split_counts(finished_run):
    _, report = finished_run
    counts = report.split_counts
    assert set(counts) == {"train", "eval", "test"}
    assert counts["train"] + counts["eval"] == 2 * TRAIN_PER_LABEL
    assert counts["test"] == 2 * TEST_PER_LABEL
    assert 0.1 < counts["eval"] / (2 * TRAIN_PER_LABEL) < 0.3


def test_projector_rows_match_the_vocabulary(finished_run):
    settings, report = finished_run
    vocabulary = tft.TFTransformOutput(_outputs(report, "Transform", "transform_graph")[0]).vocabulary_by_name(
        features.VOCABULARY_NAME
    )
    # The generated corpus has fewer distinct tokens than vocab_size allows: all of them are kept.
    assert len(vocabulary) == len(set(corpus.POSITIVE_WORDS + corpus.NEGATIVE_WORDS + corpus.NEUTRAL_WORDS))
    for folder in (report.projector_dir, _outputs(report, "ProjectorExporter", "projector")[0]):
        with open(os.path.join(folder, projector.METADATA_FILE), encoding="utf-8") as f:
            labels = f.read().split("\n")[:-1]
        vectors = np.loadtxt(os.path.join(folder, projector.VECTORS_FILE), delimiter="\t")
        assert labels == [features.OOV_TOKEN] + [token.decode() for token in vocabulary]
        assert vectors.shape == (len(labels), HPARAMS.embedding_dim)
        assert os.path.exists(os.path.join(folder, projector.PROJECTOR_CONFIG_FILE))

    store = metadata.open_store(local_runner.output_paths(settings.output_dir)["metadata"])
    (artifact,) = store.get_artifacts_by_type("imdb.EmbeddingProjectorFiles")
    assert artifact.properties["vocabulary_size"].int_value == len(vocabulary) + 1
    assert artifact.properties["embedding_dim"].int_value == HPARAMS.embedding_dim


def test_model_beats_chance_on_the_eval_split(finished_run):
    _, report = finished_run
    eval_examples = _read_split(_outputs(report, "AclImdbExampleGen", "examples")[0], "eval")
    texts = [e.features.feature["text"].bytes_list.value[0] for e in eval_examples]
    labels = np.array([e.features.feature["label"].int64_list.value[0] for e in eval_examples])
    model = tf.saved_model.load(report.serving_model_dir)
    probability = model.signatures[trainer.PREDICT_TEXT_SIGNATURE](text=tf.constant(texts))["probability"].numpy()
    accuracy = float(np.mean((probability > 0.5) == labels))
    assert accuracy > 0.8, accuracy

    # serving_default takes serialized tf.Examples and agrees with predict_text.
    serialized = tf.constant([e.SerializeToString() for e in eval_examples])
    by_example = model.signatures[trainer.SERVING_SIGNATURE](examples=serialized)["probability"].numpy()
    np.testing.assert_allclose(by_example, probability, rtol=1e-5)


def test_training_logs(finished_run):
    _, report = finished_run
    model_run = _outputs(report, "Trainer", "model_run")[0]
    with open(os.path.join(model_run, trainer.TRAINING_SUMMARY_FILE)) as f:
        summary = json.load(f)
    assert len(summary["history"]["val_accuracy"]) == HPARAMS.epochs
    assert summary["device"].startswith(("CPU", "GPU"))
    event_files = tf.io.gfile.glob(os.path.join(model_run, "train", "events.out.tfevents.*"))
    steps = {
        event.step
        for path in event_files
        for event in tf.compat.v1.train.summary_iterator(path)
        for value in event.summary.value
        if value.tag == "epoch_loss"
    }
    assert steps == set(range(HPARAMS.epochs))


def test_neighbours_reported(finished_run):
    _, report = finished_run
    assert set(report.neighbours) == {"wonderful", "awful"}
    assert len(report.neighbours["wonderful"]) == 10
    top_of_wonderful = {label for label, _ in report.neighbours["wonderful"][:3]}
    assert top_of_wonderful <= set(corpus.POSITIVE_WORDS)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tensorboard_serves_the_projector(finished_run):
    _, report = finished_run
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", report.projector_dir,
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/data/plugin/projector"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/runs", timeout=5) as response:
                    runs = json.load(response)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        assert runs == ["."]
        with urllib.request.urlopen(f"{base}/info?run=.", timeout=30) as response:
            (embedding,) = json.load(response)["embeddings"]
        assert embedding["tensorName"] == projector.CHECKPOINT_TENSOR_NAME
        with urllib.request.urlopen(
            f"{base}/metadata?run=.&name={urllib.parse.quote(embedding['tensorName'])}", timeout=30
        ) as response:
            served_labels = response.read().decode("utf-8").split("\n")
        assert "wonderful" in served_labels
        assert embedding["tensorShape"][0] == len(open(os.path.join(report.projector_dir, projector.METADATA_FILE)).readlines())
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_second_run_reuses_every_result(finished_run):
    settings, first = finished_run
    second = local_runner.run_local(settings)
    assert {c.node_id: c.state for c in second.components} == {
        "AclImdbExampleGen": "cached", "ImportSchemaGen": "cached", "Transform": "cached",
        "Trainer": "cached", "ProjectorExporter": "cached", "Pusher": "cached",
    }
    assert second.serving_model_dir == first.serving_model_dir
    assert second.neighbours == first.neighbours

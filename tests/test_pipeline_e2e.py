"""End-to-end: the whole pipeline with LocalDagRunner on a generated aclImdb corpus."""

import dataclasses
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.artifacts import DIMENSION_PROPERTY, ROWS_PROPERTY, EmbeddingProjectorFiles
from components.model import features, trainer
from components.model.hparams import HParams
from components.projector import projector
from components.validation.anomalies import DataValidationError
from pipeline import cli, data, layout
from pipeline.definition.settings import PIPELINE_NAME, PipelineSettings, RunSettings
from pipeline.records import history, metadata, report
from pipeline.runners import local_runner
from tests import corpus

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_PER_LABEL, TEST_PER_LABEL = 150, 40
# Small settings for a small corpus; the tutorial's batch of 1024 would be one step per epoch.
HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=25, batch_size=32, learning_rate=0.01)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("data") / "aclImdb")
    corpus.write_corpus(root, train_per_label=TRAIN_PER_LABEL, test_per_label=TEST_PER_LABEL, seed=1)
    settings = RunSettings(
        data_dir=data.check_dataset_dir(root),
        output_dir=str(tmp_path_factory.mktemp("output")),
        hparams=HPARAMS,
        settings=PipelineSettings(probe_words=("wonderful", "awful")),
    )
    return settings, local_runner.run_local(settings)


def _outputs(report, node_id, key):
    (run,) = [c for c in report.components if c.node_id == node_id]
    return [artifact.uri for artifact in run.outputs[key]]


def _read_split(examples_uri, split):
    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz"))
    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


COMPONENTS = {
    "AclImdbExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "DataValidationGate",
    "Transform", "Trainer", "ProjectorExporter", "BaselineModel", "Evaluator", "Pusher",
}


def test_every_component_ran(finished_run):
    _, report = finished_run
    assert {c.node_id: c.state for c in report.components} == {node: "ran" for node in COMPONENTS}
    order = [c.node_id for c in report.components]
    assert order.index("DataValidationGate") < order.index("Transform") < order.index("Trainer")
    assert order.index("Evaluator") < order.index("Pusher")


def test_first_model_is_blessed_and_pushed(finished_run):
    settings, report = finished_run
    evaluation = report.evaluation
    assert evaluation.blessed and not evaluation.failures
    assert evaluation.baseline_metrics == {}
    assert evaluation.metrics["example_count"] == 2 * TEST_PER_LABEL  # evaluated on the test split
    assert evaluation.metrics["binary_accuracy"] > 0.8
    assert {"auc", "precision", "recall", "loss"} <= set(evaluation.metrics)
    assert os.path.dirname(report.serving_model_dir) == layout.output_paths(settings.output_dir).serving_model


def test_split_counts(finished_run):
    _, report = finished_run
    counts = report.split_counts
    assert set(counts) == {"train", "eval", "test"}
    assert counts["train"] + counts["eval"] == 2 * TRAIN_PER_LABEL
    assert counts["test"] == 2 * TEST_PER_LABEL
    assert 0.1 < counts["eval"] / (2 * TRAIN_PER_LABEL) < 0.3


def test_projector_metadata_tells_kinds_counts_and_polarity(finished_run):
    _, report = finished_run
    with open(os.path.join(report.projector_dir, projector.METADATA_FILE), encoding="utf-8") as f:
        header, *rows = [line.split("\t") for line in f.read().split("\n")[:-1]]
    assert header == ["token", "kind", "train_count", "polarity"]
    by_token = {row[0]: row for row in rows}
    assert by_token[features.OOV_TOKEN][1] == "oov" and {row[1] for row in rows[1:]} == {"word"}  # no bigrams
    # Every corpus word occurs in the train split; sentiment words pull the way they mean.
    assert all(int(row[2]) > 0 for row in rows[1:])
    assert all(float(by_token[w.lower()][3]) > 0 for w in corpus.POSITIVE_WORDS)
    assert all(float(by_token[w.lower()][3]) < 0 for w in corpus.NEGATIVE_WORDS)


def test_projector_rows_match_the_vocabulary(finished_run):
    settings, report = finished_run
    vocabulary = tft.TFTransformOutput(_outputs(report, "Transform", "transform_graph")[0]).vocabulary_by_name(
        features.VOCABULARY_NAME
    )
    # The generated corpus has fewer distinct tokens than vocab_size allows: all of them are kept.
    assert len(vocabulary) == len(set(corpus.POSITIVE_WORDS + corpus.NEGATIVE_WORDS + corpus.NEUTRAL_WORDS))
    for folder in (report.projector_dir, _outputs(report, "ProjectorExporter", "projector")[0]):
        labels = projector.read_metadata_labels(os.path.join(folder, projector.METADATA_FILE))
        vectors = np.loadtxt(os.path.join(folder, projector.VECTORS_FILE), delimiter="\t")
        assert labels == [features.OOV_TOKEN] + [token.decode() for token in vocabulary]
        assert vectors.shape == (len(labels), HPARAMS.embedding_dim)
        assert os.path.exists(os.path.join(folder, projector.PROJECTOR_CONFIG_FILE))

    store = metadata.open_store(layout.output_paths(settings.output_dir).metadata)
    (artifact,) = store.get_artifacts_by_type(EmbeddingProjectorFiles.TYPE_NAME)
    assert artifact.custom_properties[ROWS_PROPERTY].int_value == len(vocabulary) + 1
    assert artifact.custom_properties[DIMENSION_PROPERTY].int_value == HPARAMS.embedding_dim


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


def _get_json(url, deadline_s=0):
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_tensorboard_command_serves_curves_and_projector(finished_run):
    settings, report = finished_run
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "pipeline.py", "tensorboard", "--output-dir", settings.output_dir, "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/data/plugin"
    try:
        assert _get_json(f"{base}/projector/runs", deadline_s=120) == ["."]
        (embedding,) = _get_json(f"{base}/projector/info?run=.")["embeddings"]
        assert embedding["tensorName"] == "classifier"
        with open(os.path.join(report.projector_dir, projector.METADATA_FILE), encoding="utf-8") as f:
            metadata_rows = f.read().split("\n")[:-1]  # a header, then a row per embedding row
        assert embedding["tensorShape"] == [len(metadata_rows) - 1, HPARAMS.embedding_dim]
        metadata_url = f"{base}/projector/metadata?run=.&name={urllib.parse.quote(embedding['tensorName'])}"
        with urllib.request.urlopen(metadata_url, timeout=30) as response:
            assert response.read().decode("utf-8").split("\n")[: len(metadata_rows)] == metadata_rows
        # The Scalars tab has the per-epoch training curves.
        scalar_runs = _get_json(f"{base}/scalars/tags")
        assert "epoch_loss" in scalar_runs["training/train"] and "epoch_accuracy" in scalar_runs["training/validation"]
        # SIGTERM to the command alone, as a supervisor sends it: its TensorBoard server stops with it.
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        # TensorBoard's data server exits once TensorBoard closes its stdin: give it seconds.
        deadline = time.monotonic() + 20
        with pytest.raises(ProcessLookupError):  # no process is left in the command's group
            while time.monotonic() < deadline:
                os.killpg(server.pid, 0)
                time.sleep(0.5)
    finally:
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait(timeout=30)


def test_pictures_beside_the_projector_files(finished_run):
    _, report = finished_run
    from PIL import Image

    for name in ("training_curves.png", "embedding_pca.png"):
        with Image.open(os.path.join(report.projector_dir, name)) as image:
            assert image.format == "PNG" and image.size[0] > 500


def test_second_run_reuses_everything_and_pushes_nothing(finished_run):
    settings, first = finished_run
    serving_dir = layout.output_paths(settings.output_dir).serving_model
    before = _serving_tree(serving_dir)
    second = local_runner.run_local(settings)
    states = {c.node_id: c.state for c in second.components}
    # The baseline leaves out the model being evaluated: the same (empty) baseline as the first
    # run, so the BaselineModel step, the Evaluator and the Pusher come from the cache too.
    assert states == {node: "cached" for node in COMPONENTS}
    assert _serving_tree(serving_dir) == before
    assert not second.pushed_new_version and second.serving_model_dir == first.serving_model_dir
    assert first.pushed_new_version
    summary = report.format_run_report(second)
    # The verdict is the cached run's, not news; the served version is named.
    assert "Evaluation (cached: the earlier run that evaluated this same model" in summary
    assert "Verdict of that run: BLESSED (this run evaluated nothing new)" in summary
    assert "pushed to the serving folder" not in summary and "no model served yet" not in summary
    assert (f"(unchanged: this run pushed nothing; version {os.path.basename(first.serving_model_dir)} is served)"
            in summary)
    assert "Verdict: BLESSED, pushed to the serving folder" in report.format_run_report(first)
    assert second.evaluation.blessed and second.evaluation.baseline_metrics == {}
    assert second.neighbours == first.neighbours
    # `runs` says the same: this run's verdict is the cache's, and it pushed nothing.
    runs = history.past_runs(layout.output_paths(settings.output_dir).metadata, PIPELINE_NAME)
    assert runs[-1].status == "cached, pushed nothing"


def _serving_tree(serving_dir):
    return sorted(
        (os.path.relpath(os.path.join(folder, name), serving_dir), os.path.getmtime(os.path.join(folder, name)))
        for folder, _, names in os.walk(serving_dir)
        for name in names
    )


def test_a_model_trained_on_shuffled_labels_is_refused_and_listed(finished_run, tmp_path, capsys):
    settings, first = finished_run
    serving_dir = layout.output_paths(settings.output_dir).serving_model
    before = _serving_tree(serving_dir)
    latest_before = layout.latest_serving_model(serving_dir)

    root = str(tmp_path / "aclImdb")
    corpus.write_corpus(root, TRAIN_PER_LABEL, TEST_PER_LABEL, seed=2, shuffle_train_labels=True)
    report = local_runner.run_local(dataclasses.replace(settings, data_dir=root))

    assert {c.node_id: c.state for c in report.components}["Trainer"] == "ran"
    assert not report.evaluation.blessed
    assert report.evaluation.metrics["binary_accuracy"] < 0.75
    assert report.evaluation.baseline_metrics["binary_accuracy"] > 0.8
    assert any("binary_accuracy" in failure for failure in report.evaluation.failures)
    assert _serving_tree(serving_dir) == before
    assert report.serving_model_dir == latest_before

    # `runs` lists it last, refused, beside the first run of the folder (blessed).
    capsys.readouterr()
    assert cli.main(["runs", "--output-dir", settings.output_dir]) == 0
    *lines, last = capsys.readouterr().out.splitlines()
    store = metadata.open_store(layout.output_paths(settings.output_dir).metadata)
    assert len(lines) == 1 + len(metadata.run_ids(store, PIPELINE_NAME))  # a header, then a line per run
    # Then the last run's status.json: refused, the exit code the command line gave.
    assert last.startswith("Last iteration (run, ") and last.endswith(": refused, exit code 5")
    assert lines[0].split() == ["started", "eval", "acc", "seconds", "status", "data"]
    assert f"blessed, pushed {os.path.basename(first.serving_model_dir)} " in lines[1]
    assert lines[1].endswith(settings.data_dir)
    assert float(lines[1].split()[2]) > 0.8
    assert "not blessed" in lines[-1] and lines[-1].endswith(root)
    assert float(lines[-1].split()[2]) == pytest.approx(report.training_summary["eval_accuracy"], abs=5e-5)


def test_validation_stops_a_broken_split_before_training(tmp_path):
    root = tmp_path / "aclImdb"
    corpus.write_corpus(str(root), train_per_label=60, test_per_label=10, seed=3)
    # Keep only 5 negative reviews in train/: both train and eval lean far to positive.
    for name in sorted(os.listdir(root / "train" / "neg"))[5:]:
        os.remove(root / "train" / "neg" / name)
    settings = RunSettings(data_dir=str(root), output_dir=str(tmp_path / "out"), hparams=HPARAMS)
    with pytest.raises(DataValidationError) as raised:
        local_runner.run_local(settings)
    message = str(raised.value)
    assert "split 'train': label: Label balance out of bounds" in message
    assert "split 'test'" not in message
    assert os.path.join("StatisticsGen", "statistics") in message and "Split-train" in message

    paths = layout.output_paths(settings.output_dir)
    store = metadata.open_store(paths.metadata)
    run_id = metadata.latest_run_id(store, settings.pipeline_name)
    states = {c.node_id: c.state for c in metadata.component_runs(store, settings.pipeline_name, run_id)}
    assert states["DataValidationGate"] == "failed"
    assert "Transform" not in states and "Trainer" not in states
    assert layout.latest_serving_model(paths.serving_model) is None


def test_predict_and_evaluate_commands(finished_run, capsys, tmp_path, monkeypatch):
    settings, report = finished_run
    assert cli.main(["predict", "--output-dir", settings.output_dir,
                     "A wonderful, brilliant film", "Awful, boring, a waste"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1] for line in lines] == ["positive", "negative"]
    # One review a line, from a file or from standard input; blank lines are skipped.
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("Awful, boring, a waste\n\nA wonderful, brilliant film\n", encoding="utf-8")
    assert cli.main(["predict", "--output-dir", settings.output_dir, "--file", str(reviews)]) == 0
    assert [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()] == ["negative", "positive"]
    monkeypatch.setattr("sys.stdin", io.StringIO("A wonderful, brilliant film\n"))
    assert cli.main(["predict", "--model", report.serving_model_dir]) == 0
    assert [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()] == ["positive"]

    assert cli.main(["evaluate", "--model", report.serving_model_dir, "--data-dir", settings.data_dir,
                     "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert f"examples:  {2 * TEST_PER_LABEL}" in out
    accuracy = float(out.split("accuracy:")[1].split()[0])
    assert accuracy > 0.8
    # The pipeline's own eval and train parts of train/, carved as the ExampleGen carved them.
    for split in ("eval", "train"):
        assert cli.main(["evaluate", "--model", report.serving_model_dir, "--data-dir", settings.data_dir,
                         "--split", split]) == 0
        out = capsys.readouterr().out
        assert f"(split {split})" in out and f"examples:  {report.split_counts[split]}\n" in out
    assert report.split_counts["train"] + report.split_counts["eval"] == 2 * TRAIN_PER_LABEL
    # A larger share carves a larger eval part (the run's was the default 20%).
    assert cli.main(["evaluate", "--model", report.serving_model_dir, "--data-dir", settings.data_dir,
                     "--split", "eval", "--eval-percent", "50"]) == 0
    half = int(capsys.readouterr().out.split("examples:")[1].split()[0].replace(",", ""))
    assert report.split_counts["eval"] < half < 2 * TRAIN_PER_LABEL

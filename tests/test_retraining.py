"""Scheduled retraining, simulated over three generated spans with LocalDagRunner:
span 1 trains and pushes; span 2 warm-starts and pushes a model at least as good; span 3 has
every label flipped and is refused, the served model untouched; a fourth call trains nothing."""

import os
import subprocess
import sys

import pytest

from components.example_gen import aclimdb
from components.model import features
from components.model.hparams import HParams
from pipeline import cli, layout
from pipeline.definition import nodes
from pipeline.definition.settings import PIPELINE_NAME, RunSettings
from pipeline.records import metadata
from pipeline.runners import retrain_runner
from tests import corpus, isolation

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Bigrams hashed into 64 rows after the words', each review's ids unpadded: the warm start carries
# the hashed rows over as a block.
HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=20, batch_size=32, learning_rate=0.01, ngram_size=2,
                  ngram_buckets=64, ragged_ids=True)
PER_LABEL = 120


def _vocabulary(report):
    import tensorflow_transform as tft

    (transform,) = [c for c in report.components if c.node_id == nodes.TRANSFORM]
    return tft.TFTransformOutput(transform.output_uri("transform_graph")).vocabulary_by_name(features.VOCABULARY_NAME)


def _states(output_dir):
    store = metadata.open_store(layout.output_paths(output_dir).metadata)
    run_id = metadata.latest_run_id(store, PIPELINE_NAME)
    return {c.node_id: c.state for c in metadata.component_runs(store, PIPELINE_NAME, run_id)}


@pytest.fixture(scope="module")
def schedule(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("spans"))
    output_dir = str(tmp_path_factory.mktemp("out"))
    run = RunSettings(data_dir=data_dir, output_dir=output_dir, hparams=HPARAMS)
    iterations = []
    for span in (1, 2, 3):
        # Equal file names in every span: the span in each id keeps them apart.
        corpus.write_corpus(os.path.join(data_dir, f"span-{span}"), train_per_label=PER_LABEL, test_per_label=None,
                            seed=span, flip_train_labels=span == 3)
        served_before = isolation.tree_bytes(layout.output_paths(output_dir).serving_model)
        report = retrain_runner.retrain(run)
        iterations.append((report, served_before, isolation.tree_bytes(layout.output_paths(output_dir).serving_model)))
    return run, iterations


def test_span_1_trains_from_scratch_and_is_pushed(schedule):
    run, iterations = schedule
    report, before, after = iterations[0]
    assert {c.node_id: c.state for c in report.components}[nodes.TRAINER] == "ran"
    assert report.training_summary["warm_start"]["source"] is None
    assert report.evaluation.blessed and before == {} and after
    assert set(report.evaluation.span_accuracy) == {1}
    assert report.split_counts["train"] + report.split_counts["eval"] == 2 * PER_LABEL


def test_span_2_reads_the_window_warm_starts_and_is_at_least_as_good(schedule):
    run, iterations = schedule
    report, before, after = iterations[1]
    assert report.split_counts["train"] + report.split_counts["eval"] == 2 * 2 * PER_LABEL  # spans 1 and 2
    warm = report.training_summary["warm_start"]
    # The base model is the one iteration 1 pushed: the ServedModel step's copy of the newest served version.
    (served_model,) = [c for c in report.components if c.node_id == nodes.SERVED_MODEL]
    assert warm["source"] == os.path.join(served_model.output_uri("model"), "Format-Serving")
    pushed_by_first = os.path.basename(iterations[0][0].serving_model_dir)
    assert served_model.outputs["model"][0].custom_properties["served_version"].string_value == pushed_by_first
    # Same generator, same words: every row of the new vocabulary was in the old one, and the 64 hashed
    # bigram rows came over as a block.
    assert warm["rows_carried"] == report.training_summary["embedding_rows"] and warm["rows_new"] == 0
    assert report.training_summary["embedding_rows"] == 1 + 1 + len(_vocabulary(report)) + 64
    assert report.evaluation.blessed
    assert set(report.evaluation.span_accuracy) == {1, 2}
    assert report.evaluation.metrics["binary_accuracy"] >= report.evaluation.baseline_metrics["binary_accuracy"]
    assert len(after) > len(before)  # a second version pushed


def test_span_3_with_flipped_labels_is_refused_and_the_served_model_kept(schedule):
    run, iterations = schedule
    report, before, after = iterations[2]
    assert {c.node_id: c.state for c in report.components}[nodes.TRAINER] == "ran"
    assert not report.evaluation.blessed
    assert after == before  # byte for byte
    assert report.serving_model_dir == iterations[1][0].serving_model_dir
    # Each old span is held to the blessing conditions on its own.
    assert any(failure.startswith("span 1: binary_accuracy") for failure in report.evaluation.failures)
    assert report.evaluation.span_baseline_accuracy[3] < 0.2 < 0.8 < report.evaluation.span_baseline_accuracy[1]
    assert "likely a data problem in span 3" in report.evaluation.data_problem()
    # ML Metadata records the refusal.
    store = metadata.open_store(layout.output_paths(run.output_dir).metadata)
    blessings = store.get_artifacts_by_type("ModelBlessing")
    assert [b.custom_properties["blessed"].int_value for b in sorted(blessings, key=lambda b: b.id)] == [1, 1, 0]


def test_a_call_with_no_new_span_trains_nothing(schedule, capsys):
    run, _ = schedule
    store = metadata.open_store(layout.output_paths(run.output_dir).metadata)
    runs_before = len(metadata.run_ids(store, PIPELINE_NAME))
    served = isolation.tree_bytes(layout.output_paths(run.output_dir).serving_model)
    assert cli.main(["retrain", "--data-dir", run.data_dir, "--output-dir", run.output_dir, "--preset", "tutorial",
                     "--vocab-size", "200", "--sequence-length", "40", "--epochs", "20", "--batch-size", "32",
                     "--learning-rate", "0.01", "--quiet"]) == 0
    assert "no new span since span 3" in capsys.readouterr().out
    store = metadata.open_store(layout.output_paths(run.output_dir).metadata)
    assert len(metadata.run_ids(store, PIPELINE_NAME)) == runs_before
    assert isolation.tree_bytes(layout.output_paths(run.output_dir).serving_model) == served


def test_no_new_span_is_answered_from_ml_metadata_without_tensorflow_or_tfx(schedule):
    run, _ = schedule
    # A fresh interpreter, as cron starts one: which modules did the answer load?
    probe = ("import json, sys; from pipeline import cli\n"
             "code = cli.main(sys.argv[1:])\n"
             "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'tfx', 'apache_beam'})]))")
    result = subprocess.run([sys.executable, "-c", probe, "retrain", "--data-dir", run.data_dir,
                             "--output-dir", run.output_dir], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "no new span since span 3" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[0, []]"


def test_the_span_property_is_tfx_s():
    from tfx.components.example_gen.utils import SPAN_PROPERTY_NAME

    assert retrain_runner.SPAN_PROPERTY == SPAN_PROPERTY_NAME


def test_review_ids_carry_their_span(schedule):
    run, iterations = schedule
    (examples,) = [c for c in iterations[1][0].components if c.node_id == nodes.EXAMPLE_GEN]
    assert examples.outputs["examples"][0].custom_properties["span"].int_value == 2
    import tensorflow as tf

    files = tf.io.gfile.glob(os.path.join(examples.outputs["examples"][0].uri, "Split-*", "*.gz"))
    ids = [tf.train.Example.FromString(r.numpy()).features.feature[aclimdb.ID_KEY].bytes_list.value[0].decode()
           for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    assert len(ids) == len(set(ids)) == 2 * 2 * PER_LABEL
    assert {i.split("/")[0] for i in ids} == {"span-1", "span-2"}


def test_a_second_iteration_at_once_stops(schedule, capsys):
    run, _ = schedule
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pipeline import layout\n"
         "with layout.output_lock(sys.argv[1]):\n"
         "    print('locked', flush=True); time.sleep(120)", run.output_dir],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert cli.main(["retrain", "--data-dir", run.data_dir, "--output-dir", run.output_dir]) == 2
        assert f"Another run is using the output folder {run.output_dir}" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()

"""End-to-end: the pipeline with --word2vec on a generated corpus with unlabelled reviews."""

import dataclasses
import os

import pytest
from google.protobuf import text_format
from tensorboard.plugins import projector as tb_projector

from components.model.hparams import HParams
from components.projector import projector
from components.word2vec import Word2VecSettings
from pipeline import data, layout
from pipeline.definition import nodes
from pipeline.definition.data_shape import DataShape
from pipeline.definition.settings import PipelineSettings, RunSettings
from pipeline.records import report
from pipeline.runners import local_runner
from tests import corpus

pytestmark = pytest.mark.e2e

HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=10, batch_size=32, learning_rate=0.01)
# The classifier starts from the Word2Vec table: words and the bigrams of known words; each review's
# ids unpadded, as the fasttext preset.
FROM_WORD2VEC = dataclasses.replace(HPARAMS, embedding_init="word2vec", ngram_size=2, vocab_size=400, ragged_ids=True)


@pytest.fixture(scope="module")
def word2vec_run(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("data") / "aclImdb")
    corpus.write_corpus(root, train_per_label=60, test_per_label=20, seed=2, unsup_reviews=200, reviews_per_movie=4)
    pairs = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    pairs.write_text("# Word 1\tWord 2\tHuman (mean)\nwonderful\tsuperb\t9.0\nawful\tterrible\t8.5\n"
                     "wonderful\tawful\t1.0\nsuperb\tdreadful\t1.5\nmovie\tfilm\t9.5\nzebra\tmovie\t2.0\n")
    settings = RunSettings(
        data_dir=data.check_dataset_dir(root),
        output_dir=str(tmp_path_factory.mktemp("output")),
        hparams=FROM_WORD2VEC,
        settings=PipelineSettings(probe_words=("wonderful", "awful")),
        word2vec=Word2VecSettings(word2vec=True, word2vec_dim=16, word2vec_min_count=2, word2vec_epochs=3,
                                  word2vec_batch_size=256, word_pairs_file=str(pairs)),
    )
    return settings, local_runner.run_local(settings)


def test_word2vec_learns_from_train_eval_and_unsup_never_test(word2vec_run):
    _, result = word2vec_run
    states = {c.node_id: c.state for c in result.components}
    assert states[nodes.WORD2VEC] == "ran" and states[nodes.PUSHER] == "ran"
    summary = result.word2vec
    assert summary["splits"] == ["eval", "train", "unsup"]
    assert summary["reviews"] == 120 + 200  # the labelled train folder and unsup/, not the 40 test reviews
    # StatisticsGen (and so validation) sees the labelled splits only.
    assert set(result.split_counts) == {"train", "eval", "test"}
    assert summary["word_similarity"]["pairs_rated"] == 5 and summary["word_similarity"]["pairs_missing"] == 1
    assert set(summary["nearest_neighbours"]) == {"wonderful", "awful"}
    lines = report.format_run_report(result)
    # The device the step recorded (CPU here, a GPU on a machine with one) is the one the report names.
    assert summary["device"].startswith(("CPU", "GPU"))
    assert f"Word2Vec (skip-gram in TensorFlow, on {summary['device']}" in lines
    assert "320 reviews (eval, train, unsup)" in lines


def test_the_classifier_starts_from_the_word2vec_table(word2vec_run):
    _, result = word2vec_run
    (word2vec,) = [c for c in result.components if c.node_id == nodes.WORD2VEC]
    started = result.training_summary["warm_start"]
    assert started["source"] == os.path.join(word2vec.output_uri("model"), "Format-Serving")
    # Every kept word of this corpus occurs twice or more in the text Word2Vec reads; padding and
    # [UNK] are not words, and a bigram starts from its words.
    assert started["rows_carried"] > 0 and started["rows_composed"] > 0
    assert started["rows_carried"] + started["rows_composed"] + started["rows_new"] == \
        result.training_summary["embedding_rows"]
    # It learned the labels from there (120 train reviews are too few to pin the accuracy on).
    assert result.evaluation.metrics["auc"] > 0.9


def test_the_projector_shows_both_tables(word2vec_run):
    settings, result = word2vec_run
    projector_dir = layout.output_paths(settings.output_dir).projector
    config = tb_projector.ProjectorConfig()
    with open(os.path.join(projector_dir, projector.PROJECTOR_CONFIG_FILE)) as f:
        text_format.Parse(f.read(), config)
    # The word table first: the Projector opens on it.
    assert [e.tensor_name for e in config.embeddings] == ["word2vec", "classifier"]
    word2vec = config.embeddings[0]
    assert (word2vec.tensor_path, word2vec.metadata_path) == ("word2vec/vectors.tsv", "word2vec/metadata.tsv")
    with open(os.path.join(projector_dir, "word2vec", "vectors.tsv")) as f:
        rows = [line.split("\t") for line in f]
    with open(os.path.join(projector_dir, "word2vec", "metadata.tsv")) as f:
        assert f.readline() == "token\tcount\n"
    labels = projector.read_metadata_labels(os.path.join(projector_dir, "word2vec", "metadata.tsv"))
    assert len(rows) == len(labels) == result.word2vec["vocabulary_size"] and {len(r) for r in rows} == {16}
    assert {"wonderful", "awful", "movie"} <= set(labels)
    assert os.path.exists(os.path.join(projector_dir, "word2vec", "embedding_pca.png"))


def test_without_the_option_nothing_changes(word2vec_run, tmp_path):
    # The factory adds neither the component nor the unsup split unless asked.
    from pipeline.definition import factory

    settings, _ = word2vec_run
    pipeline = factory.create_pipeline(
        pipeline_name="p", pipeline_root=str(tmp_path), data_root=settings.data_dir,
        serving_model_dir=str(tmp_path / "serving"), hparams=HPARAMS,
        data_shape=DataShape(test_split=True, unsup_split=True))
    assert nodes.WORD2VEC not in {c.id for c in pipeline.components}
    example_gen = pipeline.components[0]
    assert "unsup" not in example_gen.exec_properties["input_config"]

    # Starting the classifier from the table adds the step, whose model is the Trainer's base.
    pipeline = factory.create_pipeline(
        pipeline_name="p", pipeline_root=str(tmp_path), data_root=settings.data_dir,
        serving_model_dir=str(tmp_path / "serving"), hparams=FROM_WORD2VEC,
        data_shape=DataShape(test_split=True), word2vec=Word2VecSettings(word2vec_dim=16))
    components = {c.id: c for c in pipeline.components}
    base_model = components[nodes.TRAINER].inputs["base_model"]
    assert base_model.producer_component_id == nodes.WORD2VEC and base_model.output_key == "model"

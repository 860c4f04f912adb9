"""The vocabulary's count: its pieces, its Beam transform, and the file against tft.vocabulary's."""

import random

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from components.model import token_counts


def _batch(counts, shards):
    tokens = list(counts)
    return [np.array(tokens, dtype=object), np.array([counts[t] for t in tokens], np.int64),
            np.array([shards[t] for t in tokens], np.int64)]


def test_shard_counts_splits_a_batch_by_shard():
    batch = _batch({b"a": 3, b"b": 1, b"c": 2}, {b"a": 5, b"b": 0, b"c": 5})
    assert sorted(token_counts.shard_counts(batch)) == [(0, {b"b": 1}), (5, {b"a": 3, b"c": 2})]


def test_sum_counts_adds_and_merges():
    combine = token_counts.SumCounts()
    first = combine.add_input(combine.create_accumulator(), {b"a": 2, b"b": 1})
    second = combine.add_input(combine.create_accumulator(), {b"a": 1, b"c": 4})
    assert combine.extract_output(combine.merge_accumulators([first, second])) == {b"a": 3, b"b": 1, b"c": 4}
    assert combine.merge_accumulators([]) == {}


def test_least_kept_count_is_the_count_of_the_top_k_th_token():
    counts = {b"a": 5, b"c": 3, b"b": 3, b"d": 1}
    histogram = token_counts.count_histogram((0, counts))
    assert histogram == {5: 1, 3: 2, 1: 1}
    assert token_counts.least_kept_count(histogram, 2) == 3
    assert token_counts.least_kept_count(histogram, 3) == 3
    assert token_counts.least_kept_count(histogram, 4) == 1
    assert token_counts.least_kept_count(histogram, 9) == 1
    assert token_counts.least_kept_count({}, 9) == 1
    assert token_counts.candidates((0, counts), 3) == [(5, b"a"), (3, b"c"), (3, b"b")]


def test_sum_histograms():
    combine = token_counts.SumHistograms()
    first = combine.add_input(combine.create_accumulator(), {5: 1, 3: 2})
    second = combine.add_input(combine.create_accumulator(), {3: 1, 1: 4})
    assert combine.extract_output(combine.merge_accumulators([first, second])) == {5: 1, 3: 3, 1: 4}


def test_most_frequent_ranks_by_count_then_descending_bytes():
    combine = token_counts.MostFrequent(top_k=3)
    first = combine.add_input(combine.create_accumulator(), [(3, b"b"), (1, b"z")])
    second = combine.add_input(combine.create_accumulator(), [(5, b"a"), (3, b"c")])
    # tft.vocabulary's documented order: [('a', 5), ('c', 3), ('b', 3)].
    assert combine.extract_output(combine.merge_accumulators([first, second])) == b"a\nc\nb\n"
    assert combine.extract_output(combine.create_accumulator()) == b""


def test_write_vocabulary_writes_a_placeholder_when_no_token_was_seen(tmp_path):
    path = str(tmp_path / "sub" / "tokens")
    token_counts.write_vocabulary(b"x\ny\n", path)
    assert open(path, "rb").read() == b"x\ny\n"
    token_counts.write_vocabulary(b"", path)
    assert open(path, "rb").read() == token_counts.EMPTY_VOCABULARY_TOKEN + b"\n"


def test_count_top_tokens_in_beam(tmp_path):
    analyzer = token_counts.CountTopTokens(top_k=3, vocab_filename="tokens")
    analyzer.base_temp_dir = str(tmp_path)
    batches = [
        _batch({b"the": 2, b"cat": 1}, {b"the": 1, b"cat": 2}),
        _batch({b"the": 1, b"dog": 2, b"cat": 1}, {b"the": 1, b"dog": 3, b"cat": 2}),
    ]
    with TestPipeline() as pipeline:
        paths = pipeline | beam.Create(batches) | analyzer
        assert_that(paths | beam.Map(lambda path: path.item().decode()), equal_to([str(tmp_path / "tokens")]))
    assert open(tmp_path / "tokens", "rb").read().split() == [b"the", b"dog", b"cat"]


def _vocabulary_of(analyze, rows, tmp_path):
    spec = {"text": tf.io.FixedLenFeature([], tf.string)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))

    def preprocessing_fn(inputs):
        tokens = tf.strings.split(inputs["text"]).flat_values
        return {"ids": tft.apply_vocabulary(tokens, analyze(tokens))}

    with tft_beam.Context(temp_dir=str(tmp_path / "tmp"), desired_batch_size=7):
        transform_fn = (rows, metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(str(tmp_path / "out"))
    return tft.TFTransformOutput(str(tmp_path / "out")).vocabulary_by_name("tokens")


def test_the_file_is_tft_vocabulary_s(tmp_path):
    generator = random.Random(7)
    words = [f"w{i}" for i in range(60)]
    # Zipf-like counts over several batches, with many ties at the cut.
    rows = [{"text": " ".join(generator.choices(words, weights=[1 / (i + 1) for i in range(60)], k=12))}
            for _ in range(50)]
    ours = _vocabulary_of(lambda tokens: token_counts.top_tokens(tokens, 25, "tokens"), rows, tmp_path / "ours")
    theirs = _vocabulary_of(lambda tokens: tft.vocabulary(tokens, top_k=25, vocab_filename="tokens"), rows,
                            tmp_path / "theirs")
    assert len(ours) == 25
    assert ours == theirs

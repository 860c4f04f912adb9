"""The vocabulary's count: its pieces, its Beam transform, and the file against tft.vocabulary's."""

import collections
import random

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import worker_handlers
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from components.model import token_counts
from pipeline.runners import direct_runner


def _batch(counts, parts):
    tokens = list(counts)
    return [np.array(tokens, dtype=object), np.array([counts[t] for t in tokens], np.int64),
            np.array([parts[t] for t in tokens], np.int64)]


def _bundle(count_per_bundle, batches):
    """What a DoFn yields over one bundle: its outputs from process() and finish_bundle()."""
    count_per_bundle.start_bundle()
    out = [part for batch in batches for part in count_per_bundle.process(batch)]
    return out, [value.value for value in count_per_bundle.finish_bundle()]


def test_count_per_bundle_sums_a_bundle_by_part():
    batches = [_batch({b"a": 3, b"b": 1, b"c": 2}, {b"a": 5, b"b": 0, b"c": 5}),
               _batch({b"a": 1, b"d": 4}, {b"a": 5, b"d": 0})]
    during, at_the_end = _bundle(token_counts.CountPerBundle(limit=100), batches)
    assert during == []
    assert sorted(at_the_end) == [(0, {b"b": 1, b"d": 4}), (5, {b"a": 4, b"c": 2})]


def test_count_per_bundle_hands_its_sums_on_once_it_holds_the_limit():
    batches = [_batch({b"a": 3, b"b": 1, b"x": 1}, {b"a": 1, b"b": 2, b"x": 2}), _batch({b"a": 1}, {b"a": 1}),
               _batch({b"c": 2}, {b"c": 1})]
    during, at_the_end = _bundle(token_counts.CountPerBundle(limit=3), batches)
    # The first batch fills the limit (3 distinct tokens held): handed on; the rest (2) at the end.
    assert sorted(during, key=lambda part: part[0]) == [(1, {b"a": 3}), (2, {b"b": 1, b"x": 1})]
    assert at_the_end == [(1, {b"a": 1, b"c": 2})]


def test_sum_dictionaries_adds_them():
    assert token_counts.sum_dictionaries([{b"a": 2, b"b": 1}, {b"a": 1, b"c": 4}, {}]) == {b"a": 3, b"b": 1, b"c": 4}
    assert token_counts.sum_dictionaries([]) == {}


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


def test_part_sizes_sum_and_keep_the_largest():
    combine = token_counts.PartSizes()
    first = combine.add_input(combine.add_input(combine.create_accumulator(), 5), 2)
    second = combine.add_input(combine.create_accumulator(), 4)
    assert combine.extract_output(combine.merge_accumulators([first, second])) == (11, 5)


def test_sum_histograms():
    combine = token_counts.SumHistograms()
    first = combine.add_input(combine.create_accumulator(), {5: 1, 3: 2})
    second = combine.add_input(combine.create_accumulator(), {3: 1, 1: 4})
    assert combine.extract_output(combine.merge_accumulators([first, second])) == {5: 1, 3: 3, 1: 4}


def test_most_frequent_ranks_by_count_then_descending_bytes():
    combine = token_counts.MostFrequent(top_k=3)
    first = combine.add_input(combine.create_accumulator(), [(3, b"b"), (1, b"z")])
    second = combine.add_input(combine.create_accumulator(), [(5, b"a"), (3, b"c")])
    # tft.vocabulary's documented order: [('a', 5), ('c', 3), ('b', 3)]; four candidates ranked.
    assert combine.extract_output(combine.merge_accumulators([first, second])) == (b"a\nc\nb\n", 4)
    assert combine.extract_output(combine.create_accumulator()) == (b"", 0)


def test_write_vocabulary_writes_a_placeholder_when_no_token_was_seen(tmp_path):
    path = str(tmp_path / "sub" / "tokens")
    token_counts.write_vocabulary(b"x\ny\n", path, {"parts": 4096})
    assert open(path, "rb").read() == b"x\ny\n"
    assert token_counts.read_stats(path) == {"parts": 4096}
    token_counts.write_vocabulary(b"", path, {})
    assert open(path, "rb").read() == token_counts.EMPTY_VOCABULARY_TOKEN + b"\n"
    assert token_counts.read_stats(str(tmp_path / "none")) == {}


def test_count_top_tokens_in_beam(tmp_path):
    analyzer = token_counts.CountTopTokens(top_k=3, vocab_filename="tokens")
    analyzer.base_temp_dir = str(tmp_path)
    batches = [
        _batch({b"the": 2, b"cat": 1, b"a": 1}, {b"the": 1, b"cat": 2, b"a": 17}),
        _batch({b"the": 1, b"dog": 2, b"cat": 1}, {b"the": 1, b"dog": 3, b"cat": 2}),
    ]
    with TestPipeline() as pipeline:
        vocabulary, stats = pipeline | beam.Create(batches) | analyzer
        assert_that(vocabulary | "V" >> beam.Map(lambda path: path.item().decode()), equal_to([str(tmp_path / "tokens")]),
                    label="vocabulary")
        assert_that(stats | "S" >> beam.Map(lambda path: path.item().decode()),
                    equal_to([str(tmp_path / "tokens.stats.json")]), label="stats")
    assert open(tmp_path / "tokens", "rb").read().split() == [b"the", b"dog", b"cat"]
    # Each token in a part of its own ("the" 1, "cat" 2, "a" 17, "dog" 3); the least kept count is 2
    # (cat's), so "a" is not ranked.
    assert token_counts.read_stats(str(tmp_path / "tokens")) == {
        "parts": 4096, "distinct_tokens": 4, "largest_part_tokens": 1, "candidates_ranked": 3, "token_occurrences": 8}


def test_counts_lost_between_the_batches_and_the_ranking_fail_the_count():
    histogram = {5: 1, 3: 2, 1: 4}  # 15 occurrences; 3 tokens counted 3 times or more
    token_counts.check_counted(histogram, least_count=3, candidates_ranked=3, occurrences=15)
    with pytest.raises(token_counts.LostCountsError, match="14 of 15 token occurrences were summed"):
        token_counts.check_counted({5: 1, 3: 2, 1: 3}, least_count=3, candidates_ranked=3, occurrences=15)
    with pytest.raises(token_counts.LostCountsError, match="2 of 3 candidate tokens ranked"):
        token_counts.check_counted(histogram, least_count=3, candidates_ranked=2, occurrences=15)


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


def _zipf_words(generator, distinct, k):
    """``k`` words drawn from ``distinct`` ones ("w0", "w1", ...), the i-th with weight 1 / (i + 1)."""
    return generator.choices([f"w{i}" for i in range(distinct)], weights=[1 / (i + 1) for i in range(distinct)], k=k)


@pytest.mark.parametrize("bundle_tokens", [None, 5], ids=["default", "handed on every 5 tokens"])
def test_the_file_is_tft_vocabulary_s(tmp_path, monkeypatch, bundle_tokens):
    if bundle_tokens:
        # Sums handed on every 5 tokens held: each word is counted in several hand-ons, summed per part.
        monkeypatch.setattr(token_counts, "BUNDLE_TOKENS", bundle_tokens)
    generator = random.Random(7)
    # Zipf-like counts over several batches, with many ties at the cut.
    rows = [{"text": " ".join(_zipf_words(generator, 60, 12))} for _ in range(50)]
    ours = _vocabulary_of(lambda tokens: token_counts.top_tokens(tokens, 25, "tokens"), rows, tmp_path / "ours")
    theirs = _vocabulary_of(lambda tokens: tft.vocabulary(tokens, top_k=25, vocab_filename="tokens"), rows,
                            tmp_path / "theirs")
    assert len(ours) == 25
    assert ours == theirs
    stats = token_counts.read_stats(tft.TFTransformOutput(str(tmp_path / "ours" / "out")).vocabulary_file_by_name(
        "tokens"))
    assert stats["distinct_tokens"] == len({w for row in rows for w in row["text"].split()})
    assert stats["parts"] == 4096 and 1 <= stats["largest_part_tokens"] <= 3
    assert stats["token_occurrences"] == 50 * 12


def test_counts_are_exact_with_direct_runner_worker_processes(tmp_path, monkeypatch):
    # DirectRunner's multi-process mode (what `--beam-arg=--direct_running_mode=multi_processing` gives a
    # user), with the fix the pipeline's runners apply first (pipeline/runners/direct_runner.py): the mode in
    # which Beam's timed flushes of its data channel lost part of a stage's input in some runs.
    generator = random.Random(3)
    expected = collections.Counter()
    batches = []
    for _ in range(40):
        tokens = [word.encode() for word in _zipf_words(generator, 2000, 500)]
        expected.update(tokens)
        counts = collections.Counter(tokens)
        parts = tf.strings.to_hash_bucket_fast(list(counts), token_counts.PARTS).numpy()
        batches.append(_batch(counts, dict(zip(counts, parts.tolist()))))
    analyzer = token_counts.CountTopTokens(top_k=300, vocab_filename="tokens")
    analyzer.base_temp_dir = str(tmp_path)
    # Restored after the test: the fix is process-wide.
    monkeypatch.setattr(worker_handlers, "DATA_BUFFER_TIME_LIMIT_MS", worker_handlers.DATA_BUFFER_TIME_LIMIT_MS)
    direct_runner.keep_every_element()
    options = PipelineOptions(["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    with beam.Pipeline(options=options) as pipeline:
        _ = pipeline | beam.Create(batches, reshuffle=True) | analyzer
    # Most frequent first, ties in descending byte order (as tft.vocabulary).
    ranked = sorted(sorted(expected, reverse=True), key=lambda token: -expected[token])
    assert open(tmp_path / "tokens", "rb").read().splitlines() == ranked[:300]
    stats = token_counts.read_stats(str(tmp_path / "tokens"))
    assert (stats["distinct_tokens"], stats["token_occurrences"]) == (len(expected), 40 * 500)

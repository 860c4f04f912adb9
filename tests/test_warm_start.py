"""Warm start: embedding rows carried over by token, other weights when their shapes agree."""

import dataclasses

import numpy as np
import tensorflow as tf

from components.model import model as model_lib, warm_start
from components.model.hparams import HParams

HPARAMS = HParams(vocab_size=10, sequence_length=4, embedding_dim=3, hidden_units=2)


class _Served(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model


def _export(model, tokens, folder):
    tf.saved_model.save(_Served(model), folder)
    warm_start.save_row_tokens(folder, tokens)


def test_rows_follow_their_tokens_and_new_tokens_start_fresh(tmp_path):
    old_tokens = warm_start.row_tokens(["good", "bad", "film"], num_oov_buckets=1)
    assert old_tokens == ["", "[UNK]", "good", "bad", "film"]
    old = model_lib.build_model(len(old_tokens), HPARAMS)
    old_table = np.arange(15, dtype=np.float32).reshape(5, 3)
    old.get_layer("embedding").set_weights([old_table])
    _export(old, old_tokens, str(tmp_path / "old"))

    # The new vocabulary: frequencies changed the order, "film" left, "great" arrived.
    new_tokens = warm_start.row_tokens(["bad", "great", "good"], num_oov_buckets=1)
    new = model_lib.build_model(len(new_tokens), HPARAMS)
    fresh_great = new.get_layer("embedding").get_weights()[0][3].copy()
    result = warm_start.carry_over(new, new_tokens, str(tmp_path / "old"))

    table = new.get_layer("embedding").get_weights()[0]
    np.testing.assert_array_equal(table[0], [0, 1, 2])     # padding
    np.testing.assert_array_equal(table[1], [3, 4, 5])     # [UNK]
    np.testing.assert_array_equal(table[2], [9, 10, 11])   # "bad" was row 3
    np.testing.assert_array_equal(table[3], fresh_great)   # "great" is new
    np.testing.assert_array_equal(table[4], [6, 7, 8])     # "good" was row 2
    assert (result.rows_carried, result.rows_new) == (4, 1)
    # The hidden and output layers have the same shapes: copied.
    np.testing.assert_array_equal(new.get_layer("hidden").get_weights()[0], old.get_layer("hidden").get_weights()[0])
    assert sorted(result.weights_copied) == ["hidden/bias:0", "hidden/kernel:0", "logit/bias:0", "logit/kernel:0"]
    assert "4 embedding rows carried over, 1 new" in result.describe()


def test_other_shapes_start_fresh_and_no_model_trains_from_scratch(tmp_path):
    tokens = warm_start.row_tokens(["good"], num_oov_buckets=1)
    old = model_lib.build_model(len(tokens), HPARAMS)
    _export(old, tokens, str(tmp_path / "old"))
    wider = model_lib.build_model(len(tokens), HParams(vocab_size=10, sequence_length=4, embedding_dim=3, hidden_units=5))
    result = warm_start.carry_over(wider, tokens, str(tmp_path / "old"))
    assert result.rows_carried == 3 and "hidden/kernel:0" in result.weights_fresh

    assert warm_start.carry_over(wider, tokens, None).source is None
    tf.saved_model.save(_Served(old), str(tmp_path / "no_tokens"))
    unrecorded = warm_start.carry_over(wider, tokens, str(tmp_path / "no_tokens"))
    assert unrecorded.source is None and "records no row tokens" in unrecorded.reason


def test_a_word_table_starts_words_and_the_ngrams_of_known_words(tmp_path):
    # A Word2Vec-like table: words only, no padding or OOV rows, its own order.
    word_table = np.array([[1, 1, 1], [3, 5, 7], [0, 2, 0]], np.float32)
    warm_start.save_embedding_model(str(tmp_path / "words"), word_table, ["very", "good", "film"])
    tokens = warm_start.row_tokens(["good", "very", "very good", "good plot", "plot"], num_oov_buckets=1)
    model = model_lib.build_model(len(tokens), HParams(vocab_size=10, sequence_length=4, embedding_dim=3))
    fresh = model.get_layer("embedding").get_weights()[0].copy()
    result = warm_start.carry_over(model, tokens, str(tmp_path / "words"))

    table = model.get_layer("embedding").get_weights()[0]
    np.testing.assert_array_equal(table[2], [3, 5, 7])  # good
    np.testing.assert_array_equal(table[3], [1, 1, 1])  # very
    np.testing.assert_array_equal(table[4], [2, 3, 4])  # very good: the mean of its words
    for row in (0, 1, 5, 6):  # padding, [UNK], "good plot" (plot unknown), plot
        np.testing.assert_array_equal(table[row], fresh[row])
    assert (result.rows_carried, result.rows_composed, result.rows_new) == (2, 1, 4)
    # The classifier's head is not in the table: it starts fresh.
    assert result.weights_copied == [] and "1 n-grams from their words" in result.describe()


def test_a_word_table_leaves_hashed_ngram_rows_fresh(tmp_path):
    # A Word2Vec-like table: words only, no padding or OOV rows, its own order.
    word_table = np.array([[1, 1, 1], [3, 5, 7], [0, 2, 0]], np.float32)
    warm_start.save_embedding_model(str(tmp_path / "words"), word_table, ["very", "good", "film"])
    tokens = warm_start.row_tokens(["good", "very", "plot"], num_oov_buckets=1)
    hparams = HParams(vocab_size=10, sequence_length=4, embedding_dim=3, ngram_size=2, ngram_buckets=4,
                      ragged_ids=True)
    model = model_lib.build_model(len(tokens) + 4, hparams)
    fresh = model.get_layer("embedding").get_weights()[0].copy()
    result = warm_start.carry_over(model, tokens, str(tmp_path / "words"), ngram_buckets=4)

    table = model.get_layer("embedding").get_weights()[0]
    np.testing.assert_array_equal(table[2], [3, 5, 7])  # good
    np.testing.assert_array_equal(table[3], [1, 1, 1])  # very
    for row in (0, 1, 4, 5, 6, 7, 8):  # padding, [UNK], plot, the 4 n-gram buckets the table lacks
        np.testing.assert_array_equal(table[row], fresh[row])
    assert (result.rows_carried, result.rows_new) == (2, 7)
    # The classifier's head is not in the table: it starts fresh.
    assert result.weights_copied == []


def test_ngram_buckets_carry_over_as_a_block_behind_the_words(tmp_path):
    hparams = HParams(vocab_size=10, sequence_length=4, embedding_dim=2, ngram_size=2, ngram_buckets=3,
                      ragged_ids=True, hidden_units=0)
    old_tokens = warm_start.row_tokens(["good", "bad"], num_oov_buckets=1)
    old = model_lib.build_model(len(old_tokens) + 3, hparams)
    old.get_layer("embedding").set_weights([np.arange(14, dtype=np.float32).reshape(7, 2)])
    tf.saved_model.save(_Served(old), str(tmp_path / "old"))
    warm_start.save_row_tokens(str(tmp_path / "old"), old_tokens, ngram_buckets=3)

    # A word more: the bucket rows move down one row, and keep their vectors.
    new_tokens = warm_start.row_tokens(["bad", "good", "film"], num_oov_buckets=1)
    new = model_lib.build_model(len(new_tokens) + 3, hparams)
    result = warm_start.carry_over(new, new_tokens, str(tmp_path / "old"), ngram_buckets=3)
    table = new.get_layer("embedding").get_weights()[0]
    np.testing.assert_array_equal(table[2:4], [[6, 7], [4, 5]])  # bad, good by token
    np.testing.assert_array_equal(table[5:8], [[8, 9], [10, 11], [12, 13]])  # the buckets, by position
    assert (result.rows_carried, result.rows_new) == (7, 1)

    # Another number of buckets hashes n-grams elsewhere: those rows start fresh.
    other = model_lib.build_model(len(new_tokens) + 5, dataclasses.replace(hparams, ngram_buckets=5))
    assert warm_start.carry_over(other, new_tokens, str(tmp_path / "old"), ngram_buckets=5).rows_carried == 4


def test_a_model_of_the_earlier_release_records_its_tokens_as_a_list(tmp_path):
    folder = tmp_path / "earlier" / "assets.extra"
    folder.mkdir(parents=True)
    (folder / "row_tokens.json").write_text('["", "[UNK]", "good"]')
    assert warm_start.load_row_tokens(str(tmp_path / "earlier")) == (["", "[UNK]", "good"], 0)


def test_a_table_of_another_width_is_refused_with_both_widths(tmp_path):
    warm_start.save_embedding_model(str(tmp_path / "words"), np.ones((1, 5), np.float32), ["good"])
    model = model_lib.build_model(3, HParams(vocab_size=10, sequence_length=4, embedding_dim=3))
    result = warm_start.carry_over(model, warm_start.row_tokens(["good"], 1), str(tmp_path / "words"))
    assert result.source is None and result.reason == "the embedding width changed: 5 in the base model, 3 now"

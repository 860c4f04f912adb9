"""The Transform component's ``preprocessing_fn``: standardization, tokens and vocabulary.

Everything here runs inside the tf.Transform graph, which the Trainer attaches to
the exported model, so serving applies exactly the training-time text pipeline.
"""

import re
import string
from typing import Any, Dict, Mapping, Optional

import tensorflow as tf
import tensorflow_transform as tft

from components.model import features, token_counts
from components.model.hparams import (
    STANDARDIZATION_SPLIT_PUNCTUATION, STANDARDIZATION_TUTORIAL, STANDARDIZATIONS, HParams)

# The seed tutorial's `custom_standardization`, as RE2 patterns.
_LINE_BREAK_TAG = "<br />"
_PUNCTUATION = "[%s]" % re.escape(string.punctuation)
# STANDARDIZATION_SPLIT_PUNCTUATION: a slash between digits ("7/10") is kept through a placeholder;
# any run of characters but letters, digits, "!", "?" and the placeholder separates words.
_RATING_SLASH = "(\\pN)/(\\pN)"
_PLACEHOLDER = "\x01"
_SEPARATORS = "[^\\pL\\pN!?\x01]+"
_MARKS = "([!?])"


def standardize(text: tf.Tensor, standardization: str = STANDARDIZATION_TUTORIAL) -> tf.Tensor:
    """Lowercases and turns ``<br />`` into a space; then, as ``standardization`` says:

    - ``tutorial`` (the seed's): removes ASCII punctuation, which joins what it separated
      ("well-made" becomes "wellmade", "7/10" becomes "710");
    - ``split_punctuation``: removes apostrophes ("don't" becomes "dont"), keeps a slash
      between digits ("7/10"), makes "!" and "?" words of their own, and turns every other
      character that is not a letter or digit into a space ("well made").
    """
    lowercase = tf.strings.lower(text, encoding="utf-8")
    without_breaks = tf.strings.regex_replace(lowercase, _LINE_BREAK_TAG, " ")
    if standardization == STANDARDIZATION_TUTORIAL:
        return tf.strings.regex_replace(without_breaks, _PUNCTUATION, "")
    if standardization != STANDARDIZATION_SPLIT_PUNCTUATION:
        raise ValueError(f"unknown standardization {standardization!r}; one of {STANDARDIZATIONS}")
    text = tf.strings.regex_replace(without_breaks, "'", "")
    text = tf.strings.regex_replace(text, _RATING_SLASH, "\\1" + _PLACEHOLDER + "\\2")
    text = tf.strings.regex_replace(text, _SEPARATORS, " ")
    text = tf.strings.regex_replace(text, _MARKS, " \\1 ")
    return tf.strings.regex_replace(text, _PLACEHOLDER, "/")


def tokenize(text: tf.Tensor, standardization: str = STANDARDIZATION_TUTORIAL) -> tf.RaggedTensor:
    """Standardizes a batch of reviews and splits each on whitespace."""
    return tf.strings.split(standardize(text, standardization))


def ngrams(words: tf.RaggedTensor, ngram_size: int) -> tf.RaggedTensor:
    """The bigrams ("very good") of each review, then its trigrams, up to ``ngram_size`` words."""
    return tf.concat([tf.strings.ngrams(words, n, separator=" ") for n in range(2, ngram_size + 1)], axis=1)


def with_ngrams(words: tf.RaggedTensor, ngram_size: int) -> tf.RaggedTensor:
    """The words of each review, then its n-grams (``ngrams``)."""
    return tf.concat([words, ngrams(words, ngram_size)], axis=1) if ngram_size > 1 else words


def hash_ngrams(ngram_tokens: tf.RaggedTensor, buckets: int, first_row: Any) -> tf.RaggedTensor:
    """Rows of n-grams: ``first_row`` plus the n-gram's FarmHash fingerprint modulo ``buckets``.

    fastText's answer to the number of n-grams: nothing is counted or stored, n-grams that
    share a bucket share a row, and a given n-gram has the same row in every run and process.
    """
    return ngram_tokens.with_flat_values(
        tf.strings.to_hash_bucket_fast(ngram_tokens.flat_values, buckets) + tf.cast(first_row, tf.int64))


def distinct_ids(ids: tf.RaggedTensor, id_bound: int) -> tf.RaggedTensor:
    """Each review's ids without repeats, in order of first occurrence: the review as a set of tokens.

    Vectorized over the batch: ``tf.unique`` of (row, id) keys keeps rows contiguous.

    Args:
      ids: Ragged batch of token ids, each below ``id_bound``.
      id_bound: A bound on the ids (the rows of the embedding table).
    """
    rows = ids.value_rowids()
    keys, _ = tf.unique(rows * id_bound + ids.flat_values)
    return tf.RaggedTensor.from_value_rowids(keys % id_bound, keys // id_bound, nrows=ids.nrows())


def map_to_ids(tokens: tf.RaggedTensor, vocabulary: Any, num_oov_buckets: int) -> tf.RaggedTensor:
    """Maps tokens to embedding rows: padding 0, OOV ``1..num_oov_buckets``, then the vocabulary.

    Args:
      tokens: Ragged batch of tokens.
      vocabulary: The vocabulary file (a tf.Transform analyzer result).
      num_oov_buckets: Rows reserved for tokens outside the vocabulary; with more
        than one, a token's row is chosen by a hash of the token.
    """
    flat_tokens = tokens.flat_values
    vocabulary_index = tft.apply_vocabulary(flat_tokens, vocabulary, default_value=-1)
    first_vocabulary_id = 1 + num_oov_buckets
    if num_oov_buckets == 1:
        oov_ids = tf.ones_like(vocabulary_index)
    else:
        oov_ids = 1 + tf.strings.to_hash_bucket_fast(flat_tokens, num_oov_buckets)
    ids = tf.where(vocabulary_index >= 0, vocabulary_index + first_vocabulary_id, oov_ids)
    return tokens.with_flat_values(ids)


def preprocessing_fn(
    inputs: Dict[str, tf.Tensor], custom_config: Optional[Mapping[str, Any]] = None
) -> Dict[str, tf.Tensor]:
    """tf.Transform preprocessing: raw review text to embedding row ids.

    Rows: 0 pads, ``1..num_oov_buckets`` are out-of-vocabulary tokens, the vocabulary
    follows (most frequent first), then, with ``ngram_buckets``, the rows of hashed n-grams.

    Args:
      inputs: Raw features; ``text`` is a ``[batch, 1]`` string tensor, ``label`` an
        int64 ``[batch, 1]`` tensor (absent at serving time).
      custom_config: Transform settings (``HParams.transform_config()``).

    Returns:
      ``token_ids``: the rows of the first ``sequence_length`` words, then of their
      n-grams (with ``distinct_tokens`` each row once): with ``ragged_ids`` an int64
      ``SparseTensor`` of one row of ids per review, else int64
      ``[batch, HParams.token_ids_length]`` padded with 0; and ``label`` when given.
    """
    hparams = HParams.from_dict(custom_config)
    words = tokenize(tf.reshape(inputs[features.RAW_TEXT_KEY], [-1]), hparams.standardization)
    kept = words[:, : hparams.sequence_length]
    # Counted tokens: words, and the n-grams unless they are hashed.
    counted_ngram_size = 1 if hparams.hashed_ngram_rows else hparams.ngram_size
    # The vocabulary counts every token of the review, as TextVectorization.adapt does,
    # though the model only sees those of the first `sequence_length` words.
    counted = with_ngrams(words, counted_ngram_size).flat_values
    if hparams.approximate_vocabulary:
        # A weight of 1 per occurrence: tf.Transform counts within each batch in the graph.
        vocabulary = tft.experimental.approximate_vocabulary(
            counted, top_k=hparams.max_vocabulary_tokens, weights=tf.ones_like(counted, tf.float32),
            vocab_filename=features.VOCABULARY_NAME)
    else:
        vocabulary = token_counts.top_tokens(counted, hparams.max_vocabulary_tokens, features.VOCABULARY_NAME)
    ids = map_to_ids(with_ngrams(kept, counted_ngram_size), vocabulary, hparams.num_oov_buckets)
    if hparams.hashed_ngram_rows:
        first_ngram_row = 1 + hparams.num_oov_buckets + token_counts.vocabulary_size(vocabulary)
        ids = tf.concat([ids, hash_ngrams(ngrams(kept, hparams.ngram_size), hparams.ngram_buckets, first_ngram_row)],
                        axis=1)
    if hparams.distinct_tokens:
        ids = distinct_ids(ids, hparams.vocab_size + hparams.hashed_ngram_rows)
    if hparams.ragged_ids:
        token_ids = ids.to_sparse()
    else:
        token_ids = ids.to_tensor(default_value=features.PADDING_ID, shape=[None, hparams.token_ids_length])
    outputs = {features.TOKEN_IDS_KEY: token_ids}
    if features.LABEL_KEY in inputs:
        outputs[features.LABEL_KEY] = tf.cast(inputs[features.LABEL_KEY], tf.int64)
    return outputs


def embedding_rows(tf_transform_output: tft.TFTransformOutput, hparams: HParams) -> int:
    """Rows the embedding table needs: padding, OOV rows, the vocabulary actually built, n-gram buckets.

    A small corpus can have fewer distinct words than ``vocab_size`` allows; the
    table is then smaller, so no word row is left untrained.
    """
    return (1 + hparams.num_oov_buckets + tf_transform_output.vocabulary_size_by_name(features.VOCABULARY_NAME)
            + hparams.hashed_ngram_rows)

"""The preprocessing_fn through tf.Transform's Beam implementation, with exact token ids."""

import numpy as np
import pytest
import tensorflow as tf

from components.model import features, preprocessing
from components.model.hparams import HParams
from tests.transform_output import analyze_and_transform


def test_standardize_matches_the_tutorial():
    text = tf.constant(["It's <br />GREAT, isn't it?!", "Ça VA<br />bien"])
    assert preprocessing.standardize(text).numpy().tolist() == [
        b"its  great isnt it",
        "ça va bien".encode("utf-8"),
    ]


def test_split_punctuation_separates_words_and_keeps_marks_and_ratings():
    text = tf.constant(["It's <br />GREAT,isn't it?! 7/10, well-made...", "Ça VA<br />bien: 10/10/10 a_b 3.5"])
    assert preprocessing.tokenize(text, "split_punctuation").to_list() == [
        [b"its", b"great", b"isnt", b"it", b"?", b"!", b"7/10", b"well", b"made"],
        ["ça".encode("utf-8"), b"va", b"bien", b"10/10/10", b"a", b"b", b"3", b"5"],
    ]
    # The seed's standardization joins what punctuation separated.
    assert preprocessing.tokenize(text[:1]).to_list() == [[b"its", b"greatisnt", b"it", b"710", b"wellmade"]]


def test_exact_ids_padding_truncation_and_oov(tmp_path):
    rows = [
        {"text": [b"The cat sat."], "label": [1]},
        {"text": [b"the <br />CAT ran!"], "label": [0]},
        {"text": [b"A dog"], "label": [1]},
    ]
    # 6 rows: padding, one OOV row, and the 4 most frequent tokens.
    hparams = HParams(vocab_size=6, sequence_length=4, num_oov_buckets=1)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)

    # Frequency first (the, cat: 2), then ties in tf.Transform's order (descending bytes).
    assert output.vocabulary_by_name(features.VOCABULARY_NAME) == [b"the", b"cat", b"sat", b"ran"]
    assert preprocessing.embedding_rows(output, hparams) == 6
    ids = [row[features.TOKEN_IDS_KEY].tolist() for row in transformed]
    assert ids == [
        [2, 3, 4, 0],  # the cat sat <pad>
        [2, 3, 5, 0],  # the cat ran <pad>
        [1, 1, 0, 0],  # a, dog are outside the vocabulary
    ]
    assert [row[features.LABEL_KEY].tolist() for row in transformed] == [[1], [0], [1]]


def test_approximate_vocabulary_is_exact_when_every_token_fits(tmp_path):
    rows = [
        {"text": [b"The cat sat."], "label": [1]},
        {"text": [b"the <br />CAT ran!"], "label": [0]},
        {"text": [b"A dog"], "label": [1]},
    ]
    # Room for 7 tokens and 6 distinct ones: Misra-Gries keeps every count exact,
    # in tft.vocabulary's order (frequency, then descending bytes).
    hparams = HParams(vocab_size=9, sequence_length=4, approximate_vocabulary=True)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    assert output.vocabulary_by_name(features.VOCABULARY_NAME) == [b"the", b"cat", b"sat", b"ran", b"dog", b"a"]
    assert [row[features.TOKEN_IDS_KEY].tolist() for row in transformed] == [[2, 3, 4, 0], [2, 3, 5, 0], [7, 6, 0, 0]]


def test_truncation_keeps_the_first_tokens_but_vocabulary_counts_all(tmp_path):
    rows = [{"text": [b"one two three four five five five"], "label": [1]}]
    hparams = HParams(vocab_size=10, sequence_length=2, num_oov_buckets=1)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    vocabulary = output.vocabulary_by_name(features.VOCABULARY_NAME)
    # "five" is only beyond the cut, yet the most frequent token.
    assert vocabulary[0] == b"five"
    first_id = {token: i + 2 for i, token in enumerate(vocabulary)}
    assert transformed[0][features.TOKEN_IDS_KEY].tolist() == [first_id[b"one"], first_id[b"two"]]


def test_several_oov_buckets_hash_unknown_tokens_into_their_rows(tmp_path):
    rows = [{"text": [b"a a b"], "label": [1]}, {"text": [b"zebra yak a"], "label": [0]}]
    hparams = HParams(vocab_size=5, sequence_length=3, num_oov_buckets=3)  # padding, 3 OOV rows, "a"
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    assert output.vocabulary_by_name(features.VOCABULARY_NAME) == [b"a"]
    second = transformed[1][features.TOKEN_IDS_KEY].tolist()
    assert second[2] == 4  # "a": after padding and 3 OOV rows
    assert all(1 <= i <= 3 for i in second[:2])
    expected = (1 + tf.strings.to_hash_bucket_fast(["zebra", "yak"], 3)).numpy().tolist()
    assert second[:2] == expected


def test_transform_graph_serves_raw_text_without_label(tmp_path):
    rows = [{"text": [b"good film"], "label": [1]}, {"text": [b"bad film"], "label": [0]}]
    hparams = HParams(vocab_size=10, sequence_length=3)
    _, output = analyze_and_transform(rows, hparams, tmp_path)
    layer = output.transform_features_layer()
    result = layer({"text": tf.constant([["Film GOOD!"], ["unknown"]])})
    vocabulary = output.vocabulary_by_name(features.VOCABULARY_NAME)
    film, good = vocabulary.index(b"film") + 2, vocabulary.index(b"good") + 2
    np.testing.assert_array_equal(result[features.TOKEN_IDS_KEY].numpy(), [[film, good, 0], [1, 0, 0]])
    assert features.LABEL_KEY not in result


@pytest.mark.parametrize(
    "values, message",
    [
        ({"vocab_size": 0}, "vocab_size must be a positive integer"),
        ({"sequence_length": 0}, "sequence_length must be a positive integer"),
        ({"epochs": -1}, "epochs must be a positive integer"),
        ({"vocab_size": 2}, "leaves no room for tokens"),
        ({"ngram_size": 4}, "ngram_size must be 1, 2 or 3"),
        ({"ngram_buckets": -1}, "ngram_buckets must be a non-negative integer"),
        ({"standardization": "nltk"}, "standardization must be one of"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"vocabulary": 5}, "Unknown hyperparameters"),
    ],
)
def test_hparams_reject_bad_values(values, message):
    with pytest.raises(ValueError, match=message):
        HParams.from_dict(values)


def test_bigrams_follow_the_words_in_one_vocabulary(tmp_path):
    rows = [{"text": [b"very good film"], "label": [1]}, {"text": [b"very good"], "label": [1]}]
    hparams = HParams(vocab_size=20, sequence_length=3, ngram_size=2)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    vocabulary = output.vocabulary_by_name(features.VOCABULARY_NAME)
    assert set(vocabulary) == {b"very", b"good", b"film", b"very good", b"good film"}
    row = {token: i + 2 for i, token in enumerate(vocabulary)}
    assert hparams.token_ids_length == 5
    assert transformed[0][features.TOKEN_IDS_KEY].tolist() == [
        row[b"very"], row[b"good"], row[b"film"], row[b"very good"], row[b"good film"]
    ]
    assert transformed[1][features.TOKEN_IDS_KEY].tolist() == [row[b"very"], row[b"good"], row[b"very good"], 0, 0]


def test_bigrams_come_from_the_kept_words_only(tmp_path):
    rows = [{"text": [b"a b c d"], "label": [1]}]
    hparams = HParams(vocab_size=20, sequence_length=2, ngram_size=2)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    vocabulary = output.vocabulary_by_name(features.VOCABULARY_NAME)
    row = {token: i + 2 for i, token in enumerate(vocabulary)}
    # The vocabulary knows "c d", but only "a b" lies within the first two words.
    assert b"c d" in vocabulary
    assert transformed[0][features.TOKEN_IDS_KEY].tolist() == [row[b"a"], row[b"b"], row[b"a b"]]


def test_trigrams_follow_the_bigrams(tmp_path):
    rows = [{"text": [b"not very good film"], "label": [0]}]
    hparams = HParams(vocab_size=20, sequence_length=3, ngram_size=3)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    row = {token: i + 2 for i, token in enumerate(output.vocabulary_by_name(features.VOCABULARY_NAME))}
    # 3 words, 2 bigrams, 1 trigram of the first three words; the vocabulary also counts the rest.
    assert hparams.token_ids_length == 6
    assert b"very good film" in row
    assert transformed[0][features.TOKEN_IDS_KEY].tolist() == [
        row[b"not"], row[b"very"], row[b"good"], row[b"not very"], row[b"very good"], row[b"not very good"]]


def test_distinct_tokens_keep_each_id_once_in_order_of_first_occurrence(tmp_path):
    rows = [{"text": [b"bad bad film bad"], "label": [0]}, {"text": [b"film film"], "label": [1]},
            {"text": [b"zzz qqq zzz"], "label": [1]}]
    # Room for the two most frequent tokens, "film" and "bad" (3 each; ties in descending bytes):
    # every bigram and "zzz", "qqq" share the OOV row, which also counts once per review.
    hparams = HParams(vocab_size=4, sequence_length=4, ngram_size=2, distinct_tokens=True)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    assert output.vocabulary_by_name(features.VOCABULARY_NAME) == [b"film", b"bad"]
    film, bad, oov = 2, 3, 1
    assert [row[features.TOKEN_IDS_KEY].tolist() for row in transformed] == [
        [bad, film, oov, 0, 0, 0, 0],  # bad bad film bad | bad bad, bad film, film bad
        [film, oov, 0, 0, 0, 0, 0],  # film film | film film
        [oov, 0, 0, 0, 0, 0, 0],  # zzz qqq zzz | zzz qqq, qqq zzz
    ]


def _bucket(ngram: str, buckets: int, first_row: int) -> int:
    """The row TensorFlow's FarmHash bucketing gives an n-gram, after ``first_row``."""
    return first_row + int(tf.strings.to_hash_bucket_fast([ngram], buckets).numpy()[0])


def test_bigrams_are_hashed_into_rows_after_the_words(tmp_path):
    rows = [{"text": [b"very good film"], "label": [1]}, {"text": [b"very good"], "label": [1]}]
    hparams = HParams(vocab_size=20, sequence_length=3, ngram_size=2, ngram_buckets=1000)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    vocabulary = output.vocabulary_by_name(features.VOCABULARY_NAME)
    # Words only: no n-gram is counted.
    assert vocabulary == [b"very", b"good", b"film"]
    # padding, 1 OOV row, 3 words, then the 1000 bucket rows from row 5.
    assert preprocessing.embedding_rows(output, hparams) == 1005
    very, good, film = 2, 3, 4
    assert hparams.token_ids_length == 5
    assert transformed[0][features.TOKEN_IDS_KEY].tolist() == [
        very, good, film, _bucket("very good", 1000, 5), _bucket("good film", 1000, 5)]
    assert transformed[1][features.TOKEN_IDS_KEY].tolist() == [very, good, _bucket("very good", 1000, 5), 0, 0]
    # Pinned: FarmHash is the same in every process and release, so a bucket is the same n-grams in every run.
    assert transformed[0][features.TOKEN_IDS_KEY].tolist()[3:] == [5 + 443, 5 + 936]


def test_hashed_bigrams_come_from_the_kept_words_only(tmp_path):
    rows = [{"text": [b"a b c d"], "label": [1]}]
    hparams = HParams(vocab_size=20, sequence_length=2, ngram_size=2, ngram_buckets=50)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    row = {token: i + 2 for i, token in enumerate(output.vocabulary_by_name(features.VOCABULARY_NAME))}
    # The vocabulary counts all four words, but only "a b" lies within the first two.
    assert len(row) == 4
    assert transformed[0][features.TOKEN_IDS_KEY].tolist() == [row[b"a"], row[b"b"], _bucket("a b", 50, 6)]


def test_hashed_trigrams_follow_the_hashed_bigrams(tmp_path):
    rows = [{"text": [b"not very good film"], "label": [0]}]
    hparams = HParams(vocab_size=20, sequence_length=3, ngram_size=3, ngram_buckets=100)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    row = {token: i + 2 for i, token in enumerate(output.vocabulary_by_name(features.VOCABULARY_NAME))}
    first_bucket = 2 + len(row)
    # 3 words, 2 bigrams, 1 trigram of the first three words.
    assert hparams.token_ids_length == 6
    assert transformed[0][features.TOKEN_IDS_KEY].tolist() == [
        row[b"not"], row[b"very"], row[b"good"], _bucket("not very", 100, first_bucket),
        _bucket("very good", 100, first_bucket), _bucket("not very good", 100, first_bucket)]


def test_distinct_tokens_keep_each_hashed_row_once(tmp_path):
    rows = [{"text": [b"bad bad film bad"], "label": [0]}, {"text": [b"film film"], "label": [1]},
            {"text": [b"zzz qqq zzz"], "label": [1]}]
    # Room for the two most frequent words, "film" and "bad" (3 each; ties in descending bytes):
    # "zzz" and "qqq" share the OOV row, which also counts once per review.
    hparams = HParams(vocab_size=4, sequence_length=4, ngram_size=2, ngram_buckets=10, distinct_tokens=True)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    assert output.vocabulary_by_name(features.VOCABULARY_NAME) == [b"film", b"bad"]
    film, bad, oov = 2, 3, 1
    bigram = {text: _bucket(text, 10, 4) for text in ("bad bad", "bad film", "film bad", "film film", "zzz qqq",
                                                       "qqq zzz")}
    expected = [
        [bad, film] + list(dict.fromkeys([bigram["bad bad"], bigram["bad film"], bigram["film bad"]])),
        [film, bigram["film film"]],
        [oov] + list(dict.fromkeys([bigram["zzz qqq"], bigram["qqq zzz"]])),
    ]
    assert [row[features.TOKEN_IDS_KEY].tolist() for row in transformed] == [ids + [0] * (7 - len(ids))
                                                                            for ids in expected]


def test_ragged_ids_keep_each_review_at_its_own_length(tmp_path):
    rows = [{"text": [b"very good film"], "label": [1]}, {"text": [b"bad"], "label": [0]},
            {"text": [b""], "label": [0]}]
    hparams = HParams(vocab_size=20, sequence_length=100, ngram_size=2, ngram_buckets=1000, ragged_ids=True)
    transformed, output = analyze_and_transform(rows, hparams, tmp_path)
    row = {token: i + 2 for i, token in enumerate(output.vocabulary_by_name(features.VOCABULARY_NAME))}
    first_bucket = 2 + len(row)
    # No padding: three words and two bigrams, one word, nothing.
    assert [row_[features.TOKEN_IDS_KEY].tolist() for row_ in transformed] == [
        [row[b"very"], row[b"good"], row[b"film"], _bucket("very good", 1000, first_bucket),
         _bucket("good film", 1000, first_bucket)],
        [row[b"bad"]],
        [],
    ]
    spec = output.transformed_feature_spec()[features.TOKEN_IDS_KEY]
    assert isinstance(spec, tf.io.VarLenFeature) and spec.dtype == tf.int64
    served = output.transform_features_layer()({"text": tf.constant([["Bad FILM"]])})[features.TOKEN_IDS_KEY]
    assert isinstance(served, tf.SparseTensor)
    assert served.values.numpy().tolist() == [row[b"bad"], row[b"film"], _bucket("bad film", 1000, first_bucket)]


@pytest.mark.parametrize("ngram_size, length, expected", [(1, 5, 5), (2, 5, 9), (3, 5, 12), (3, 1, 1), (3, 2, 3)])
def test_token_ids_length_counts_every_ngram_of_the_kept_words(ngram_size, length, expected):
    assert HParams(ngram_size=ngram_size, sequence_length=length).token_ids_length == expected

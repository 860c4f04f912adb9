"""Skip-gram with negative sampling: pairs, subsampling, training on a generated corpus, word similarity."""

import numpy as np
import tensorflow as tf
import pytest

from components.word2vec import Word2VecSettings, skipgram
from components.setting import SettingError


def test_pairs_stay_inside_a_review_and_inside_the_window():
    ids = np.array([0, 1, 2, 3, 4, 5], np.int32)
    reviews = np.array([0, 0, 0, 1, 1, 1], np.int32)
    centres, contexts = skipgram.skipgram_pairs(ids, reviews, np.ones(6), window=2, rng=np.random.default_rng(0))
    pairs = set(zip(centres.tolist(), contexts.tolist()))
    # Every pair is two words of one review at most 2 apart; none crosses from review 0 to 1.
    allowed = {(a, b) for a in range(6) for b in range(6) if a != b and a // 3 == b // 3 and abs(a - b) <= 2}
    assert pairs <= allowed
    # Neighbours are always within a shrunk window of at least 1.
    assert {(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3), (4, 5), (5, 4)} <= pairs


def test_subsampling_thins_only_the_frequent_words():
    counts = np.array([1_000_000, 1_000, 10], np.float64)
    keep = skipgram.keep_probabilities(counts, subsample=1e-3)
    # word2vec's formula: (sqrt(f / t) + 1) * t / f, at most 1; f = 0.99899 for the first word.
    assert keep[0] == pytest.approx(0.032639, rel=1e-4)
    assert keep[1] == 1.0 and keep[2] == 1.0


def _topic_corpus(rng, reviews=400):
    """Reviews built from templates: words of one group fill the same slots, so they share contexts."""
    groups = {"animal": ["cat", "dog", "horse", "cow"], "vehicle": ["car", "truck", "bus", "train"],
              "food": ["bread", "cheese", "apple", "rice"]}
    templates = {"animal": "the {} runs in the field and eats grass near the farm",
                 "vehicle": "the {} drives on the road with wheels and an engine",
                 "food": "we cook {} in the kitchen and eat it for dinner"}
    texts = []
    for _ in range(reviews):
        group = rng.choice(list(groups))
        texts.append(" ".join(templates[group].format(rng.choice(groups[group])) for _ in range(3)))
    return groups, texts


def _token_ids(folder, ids, lengths, batch_reviews):
    token_ids = skipgram.TokenIds(str(folder))
    firsts = np.concatenate([[0], np.cumsum(lengths)])
    for start in range(0, len(lengths), batch_reviews):
        end = min(start + batch_reviews, len(lengths))
        token_ids.append(ids[firsts[start]:firsts[end]], lengths[start:end])
    return token_ids


def test_token_ids_are_read_back_in_chunks_of_whole_batches(tmp_path):
    lengths = np.array([2, 0, 3, 1, 2], np.int32)
    ids = np.arange(8, dtype=np.int32)
    token_ids = _token_ids(tmp_path, ids, lengths, batch_reviews=2)
    assert (token_ids.reviews, token_ids.tokens) == (5, 8)
    chunks = list(token_ids.chunks(chunk_reviews=4))
    # Two written batches of 2 reviews make a chunk; reviews are numbered within it.
    assert [c[0].tolist() for c in chunks] == [[0, 1, 2, 3, 4, 5], [6, 7]]
    assert [c[1].tolist() for c in chunks] == [[0, 0, 2, 2, 2, 3], [0, 0]]
    shuffled = [c[0].tolist() for c in token_ids.chunks(np.random.default_rng(0), chunk_reviews=2)]
    assert shuffled == [[6, 7], [0, 1], [2, 3, 4, 5]]  # the permutation [2, 0, 1] of the seed


def test_words_used_in_the_same_contexts_end_up_near(tmp_path):
    rng = np.random.default_rng(0)
    groups, texts = _topic_corpus(rng)
    words = sorted({w for t in texts for w in t.split()})
    row = {w: i for i, w in enumerate(words)}
    ids = np.concatenate([[row[w] for w in t.split()] for t in texts]).astype(np.int32)
    lengths = np.array([len(t.split()) for t in texts], np.int32)
    counts = np.bincount(ids, minlength=len(words)).astype(np.float64)
    # 400 reviews written 32 at a time, trained in chunks of 64 (7 chunks): the chunks' pairs are
    # never all in memory at once.
    token_ids = _token_ids(tmp_path, ids, lengths, batch_reviews=32)
    result = skipgram.train(token_ids, counts, dim=16, window=3, negatives=5, epochs=5, subsample=1e-2,
                            learning_rate=0.05, batch_size=256, seed=3, chunk_reviews=64)
    assert result.table.shape == (len(words), 16)
    assert result.loss_per_epoch[-1] < result.loss_per_epoch[0]
    unit = result.table / np.linalg.norm(result.table, axis=1, keepdims=True)
    for group, members in groups.items():
        for word in members:
            similarity = unit @ unit[row[word]]
            nearest = [words[i] for i in np.argsort(-similarity) if words[i] != word]
            # The three other members of its group come before any member of another group.
            others = [w for g, m in groups.items() if g != group for w in m]
            first_other = min(nearest.index(w) for w in others)
            assert max(nearest.index(w) for w in members if w != word) < first_other, (word, nearest[:8])


def test_word_similarity_is_spearman_over_the_pairs_it_knows(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("# Word 1\tWord 2\tHuman (mean)\nA\tb\t9.0\na\tc\t5.0\nb\tc\t1.0\na\tunknown\t3.0\n")
    pairs = skipgram.read_word_pairs(str(path))
    assert pairs[0] == ("a", "b", 9.0) and len(pairs) == 4
    table = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])  # a, b, c: a~b close, c far
    result = skipgram.word_similarity(table, ["a", "b", "c"], pairs)
    assert (result.pairs_rated, result.pairs_missing) == (3, 1)
    # Model order a-b > a-c ~ b-c; human 9 > 5 > 1: cos(a,c)=0 < cos(b,c)=0.11, so one pair swaps.
    assert result.spearman == pytest.approx(0.5)


def test_a_bad_pairs_file_names_the_line(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\t9.0\na b 3\n")
    with pytest.raises(ValueError, match=r"pairs.tsv, line 2: expected word1<TAB>word2<TAB>score"):
        skipgram.read_word_pairs(str(path))


@pytest.mark.parametrize("field, value", [("word2vec_dim", 0), ("word2vec_subsample", 1.5), ("word2vec_seed", -1),
                                          ("word_pairs_file", "/nowhere/wordsim353.tsv")])
def test_settings_check_themselves(field, value):
    with pytest.raises(SettingError) as raised:
        Word2VecSettings(**{field: value})
    assert raised.value.field == field


def test_words_are_split_as_the_classifiers_standardization_says(tmp_path):
    texts = tf.data.Dataset.from_tensor_slices(["A well-made film!", "Well, well"]).batch(2)
    words = ["well", "made", "film", "!", "wellmade"]
    (tmp_path / "split").mkdir()
    (tmp_path / "tutorial").mkdir()
    [(ids, reviews)] = skipgram.write_token_ids(texts, words, str(tmp_path / "split"), "split_punctuation").chunks()
    assert ids.tolist() == [0, 1, 2, 3, 0, 0] and reviews.tolist() == [0, 0, 0, 0, 1, 1]
    # The tutorial's standardization: punctuation joins.
    [(ids, reviews)] = skipgram.write_token_ids(texts, words, str(tmp_path / "tutorial")).chunks()
    assert ids.tolist() == [4, 2, 0, 0] and reviews.tolist() == [0, 0, 1, 1]

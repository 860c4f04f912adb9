"""The scaling benchmark's corpus: the real reviews kept, new ones drawn from their word model, in aclImdb's layout."""

import os
import re

import numpy as np

from bench import run as bench
from bench import scale_corpus
from tests import corpus


def _reviews(folder):
    result = {}
    for name in os.listdir(folder):
        review_id, rating = map(int, re.match(r"^(\d+)_(\d+)\.txt$", name).groups())
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            result[review_id] = (rating, f.read())
    return result


def test_a_scaled_corpus_keeps_the_real_reviews_and_adds_new_ones_of_real_lengths(tmp_path):
    root, output = str(tmp_path / "aclImdb"), str(tmp_path / "scaled")
    corpus.write_corpus(root, train_per_label=40, test_per_label=None, extras=False, reviews_per_movie=4)
    assert scale_corpus.write_corpus(root, output, times=3, seed=1) == {"neg": 120, "pos": 120}
    vocabulary = set()
    for label, ratings in (("pos", {7, 8, 9, 10}), ("neg", {1, 2, 3, 4})):
        real = _reviews(os.path.join(root, "train", label))
        vocabulary |= {word for _, text in real.values() for word in text.split()}
        scaled = _reviews(os.path.join(output, "train", label))
        assert sorted(scaled) == list(range(120))
        for review_id in real:  # the real reviews, linked with their names
            name = f"{review_id}_{real[review_id][0]}.txt"
            assert os.path.samefile(os.path.join(root, "train", label, name), os.path.join(output, "train", label, name))
        generated = [scaled[i] for i in range(40, 120)]
        assert {rating for rating, _ in generated} <= ratings
        # Each new review is as long as some real one, and no new review is a copy of a real one.
        assert {len(text.split()) for _, text in generated} <= {len(text.split()) for _, text in real.values()}
        assert not {text for _, text in generated} & {text for _, text in real.values()}
        with open(os.path.join(output, "train", f"urls_{label}.txt")) as f:
            urls = f.read().splitlines()
        # Line N names the movie of review N: the real lines kept, new movies for the new reviews.
        with open(os.path.join(root, "train", f"urls_{label}.txt")) as f:
            assert urls[:40] == f.read().splitlines()
        assert all(re.fullmatch(r"http://www\.imdb\.com/title/tt9\d{6}/usercomments", line) for line in urls[40:])
    words = {word for label in ("pos", "neg") for _, text in _reviews(os.path.join(output, "train", label)).values()
             for word in text.split()}
    made_up = words - vocabulary
    assert made_up and all(re.fullmatch(r"([bcdfghjklmnprstvz][aeiou]){2,}", word) for word in made_up)


def test_new_words_are_two_or_more_syllables():
    assert scale_corpus.new_word(0) == "babe"
    assert scale_corpus.new_word(1) == "bebe"
    assert len({scale_corpus.new_word(i) for i in range(10_000)}) == 10_000


def test_the_label_model_follows_the_text_it_learned():
    model = scale_corpus.LabelModel(["a b c a b d", "b c a"], [8, 9])
    # With no jumps and no new words, every generated bigram is one of the text's, except after "d",
    # which only ends a review: any word of the text follows it.
    jump, new_word = scale_corpus.JUMP, scale_corpus.NEW_WORD
    try:
        scale_corpus.JUMP = scale_corpus.NEW_WORD = 0.0
        reviews = list(model.sample(50, np.random.default_rng(0), new_words=1))
    finally:
        scale_corpus.JUMP, scale_corpus.NEW_WORD = jump, new_word
    seen = {("a", "b"), ("b", "c"), ("c", "a"), ("b", "d")}
    for ids, rating in reviews:
        words = model.text(ids).split()
        assert rating in (8, 9) and len(words) in (3, 6)
        assert {pair for pair in zip(words, words[1:]) if pair[0] != "d"} <= seen


def test_the_scaling_table_reads_what_each_size_held():
    case = bench.ScaleCase(4, 100_000, 400.0, 3000, 2000, 900, {"Transform": 120.0},
                           {"parts": 4096, "largest_part_tokens": 2_500, "distinct_tokens": 8_000_000,
                            "candidates_ranked": 200_100}, 0.91, 9)
    table = bench.format_scaling([case])
    assert table.splitlines()[1].split() == ["4x", "100000", "400.0", "4.00", "-", "-", "120.0", "-", "-", "3000",
                                             "2000", "900", "2500", "8000000", "200100", "0.9100", "9"]

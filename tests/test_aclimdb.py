"""Unit tests of the aclImdb reader (no TFX)."""

import os

import pytest

from components.example_gen import aclimdb


def test_parse_review_path_reads_label_folder_and_rating():
    assert aclimdb.parse_review_path("/d/aclImdb/train/pos/123_9.txt") == ("train/pos/123_9", 1, 9)
    assert aclimdb.parse_review_path("/d/aclImdb/test/neg/7_1.txt") == ("test/neg/7_1", 0, 1)


def test_parse_review_path_without_rating_keeps_folder_label():
    assert aclimdb.parse_review_path("/d/train/neg/notes.txt") == ("train/neg/notes", 0, aclimdb.UNKNOWN_RATING)


def test_parse_review_path_gives_unlabelled_reviews_no_label():
    assert aclimdb.parse_review_path("/d/train/unsup/1_0.txt") == ("train/unsup/1_0", None, 0)
    with pytest.raises(ValueError, match="not in a pos/, neg/ or unsup/ folder"):
        aclimdb.parse_review_path("/d/train/other/1_0.txt")


def test_labelled_review_files_ignores_unsup_urls_and_feat(small_corpus):
    root, counts = small_corpus
    files = aclimdb.labelled_review_files(os.path.join(root, "train/*/*.txt"))
    assert len(files) == counts["train"]
    assert all(os.path.basename(os.path.dirname(f)) in ("pos", "neg") for f in files)
    assert files == sorted(files)


def test_read_review_replaces_invalid_utf8(tmp_path):
    folder = tmp_path / "train" / "pos"
    folder.mkdir(parents=True)
    path = folder / "5_10.txt"
    path.write_bytes(b"caf\xe9 great")
    review = aclimdb.read_review(str(path))
    assert review.had_invalid_utf8
    assert review.text == "caf\ufffd great".encode("utf-8")
    assert (review.review_id, review.label, review.rating) == ("train/pos/5_10", 1, 10)


def test_is_eval_review_is_deterministic_and_near_the_share():
    ids = [f"train/{label}/{i}_{r}" for label, r in (("pos", 8), ("neg", 2)) for i in range(5000)]
    chosen = [aclimdb.is_eval_review(review_id, 20) for review_id in ids]
    # Pinned: the first 8 bytes of SHA-256 modulo 100 (4_8: 13, 11_8: 2, 9_8 and 10_8: 27), the
    # same in every process; Python's salted `hash` would move them from run to run.
    assert [i for i in range(12) if chosen[i]] == [4, 11]
    assert [i for i in range(12) if aclimdb.is_eval_review(ids[i], 30)] == [4, 9, 10, 11]
    assert aclimdb.is_eval_review("train/pos/0_8", 20, movie="tt0064354")  # movie/tt0064354: 4
    assert not aclimdb.is_eval_review("train/pos/4_8", 20, movie="tt0453418")  # movie/tt0453418: 88
    assert 0.18 < sum(chosen) / len(ids) < 0.22
    # A larger share only adds reviews: eval at 20% is a subset of eval at 30%.
    assert all(aclimdb.is_eval_review(i, 30) for i, c in zip(ids, chosen) if c)


def test_movie_ids_come_from_the_url_lists_by_line(tmp_path):
    train = tmp_path / "span-2" / "train"
    train.mkdir(parents=True)
    (train / "urls_pos.txt").write_text("http://www.imdb.com/title/tt0453418/usercomments\n"
                                        "not a url\n"
                                        "http://www.imdb.com/title/tt0064354/usercomments\n")
    movies = aclimdb.read_movie_ids(str(tmp_path), "span-2/train")  # no urls_neg.txt: neg reviews have none
    assert movies == {"span-2/train/pos/0": "tt0453418", "span-2/train/pos/2": "tt0064354"}
    assert aclimdb.movie_of("span-2/train/pos/2_9", movies) == "tt0064354"
    assert aclimdb.movie_of("span-2/train/pos/1_8", movies) is None
    assert aclimdb.movie_of("span-2/train/neg/0_1", movies) is None
    assert aclimdb.movie_of("span-2/train/pos/odd-name", movies) is None
    assert aclimdb.read_movie_ids(str(tmp_path), "train") == {}


def test_reviews_of_one_movie_land_on_one_side():
    # 200 movies with 10 reviews each, in both label folders.
    reviews = [(f"train/{label}/{i}_{r}", f"tt{i // 10:07d}") for label, r in (("pos", 8), ("neg", 2))
               for i in range(2000)]
    sides = {}
    for review_id, movie in reviews:
        sides.setdefault(movie, set()).add(aclimdb.is_eval_review(review_id, 20, movie))
    assert all(len(side) == 1 for side in sides.values())
    eval_movies = sum(side == {True} for side in sides.values())
    assert 0.12 < eval_movies / len(sides) < 0.28
    # Pinned: SHA-256 of "movie/tt0064354" is 4 mod 100, of "movie/tt0453418" 88, whatever the review.
    assert [aclimdb.is_eval_review(r, 20, "tt0064354") for r in ("train/pos/0_9", "span-3/train/neg/7_1")] == [True] * 2
    assert [aclimdb.is_eval_review(r, 20, "tt0453418") for r in ("train/pos/0_9", "span-3/train/neg/7_1")] == [False] * 2
    assert aclimdb.is_eval_review("train/pos/0_9", 89, "tt0453418")


def test_to_tf_example_has_all_features():
    review = aclimdb.Review("train/neg/3_2", "bad <br />film".encode("utf-8"), 0, 2)
    feature = aclimdb.to_tf_example(review).features.feature
    assert feature["text"].bytes_list.value == [b"bad <br />film"]
    assert feature["label"].int64_list.value == [0]
    assert feature["rating"].int64_list.value == [2]
    assert feature["id"].bytes_list.value == [b"train/neg/3_2"]

"""Unit tests of the aclImdb reader (no TFX)."""

import os

import pytest

from components.example_gen import aclimdb


def test_parse_review_path_reads_label_folder_and_rating():
    assert aclimdb.parse_review_path("/d/aclImdb/train/pos/123_9.txt") == ("train/pos/123_9", 1, 9)
    assert aclimdb.parse_review_path("/d/aclImdb/test/neg/7_1.txt") == ("test/neg/7_1", 0, 1)


def test_parse_review_path_without_rating_keeps_folder_label():
    assert aclimdb.parse_review_path("/d/train/neg/notes.txt") == ("train/neg/notes", 0, aclimdb.UNKNOWN_RATING)


def test_parse_review_path_rejects_unlabelled_folder():
    with pytest.raises(ValueError, match="pos/ or neg/"):
        aclimdb.parse_review_path("/d/train/unsup/1_0.txt")


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
    assert chosen == [aclimdb.is_eval_review(review_id, 20) for review_id in ids]
    assert 0.18 < sum(chosen) / len(ids) < 0.22
    # A larger share only adds reviews: eval at 20% is a subset of eval at 30%.
    assert all(aclimdb.is_eval_review(i, 30) for i, c in zip(ids, chosen) if c)


def test_to_tf_example_has_all_features():
    review = aclimdb.Review("train/neg/3_2", "bad <br />film".encode("utf-8"), 0, 2)
    feature = aclimdb.to_tf_example(review).features.feature
    assert feature["text"].bytes_list.value == [b"bad <br />film"]
    assert feature["label"].int64_list.value == [0]
    assert feature["rating"].int64_list.value == [2]
    assert feature["id"].bytes_list.value == [b"train/neg/3_2"]

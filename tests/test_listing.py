"""The input fingerprint from listings: the whole window, each folder listed once, a bucket's folder markers
skipped; and ``resolve_input``, which the local driver, the Kubeflow probe and the executor share."""

import json
import os

import pytest

from components.example_gen import executor, listing
from tests import corpus, fake_gcs

TRAIN = "span-{SPAN}/train/*/*.txt"


def _spans(root, count):
    for span in range(1, count + 1):
        corpus.write_corpus(str(root / f"span-{span}"), train_per_label=4, test_per_label=None, seed=span)


def _resolve(root, window):
    return executor.resolve_input(
        str(root), json.dumps({"splits": [{"name": "train", "pattern": TRAIN}, {"name": "eval", "pattern": TRAIN}]}),
        json.dumps({"customConfig": {"@type": "type.googleapis.com/google.protobuf.Struct",
                                     "value": {"eval_percent": 20, "window": window}}}))


def test_the_fingerprint_covers_every_span_of_the_window_and_sees_a_changed_older_span(tmp_path):
    _spans(tmp_path, 3)
    resolved = _resolve(tmp_path, window=2)
    assert resolved["span"] == 3
    lines = resolved["input_fingerprint"].splitlines()
    # One line per span of the window (train and eval share the pattern): 8 reviews and the unsup/ one each.
    assert [line.split(",")[0] for line in lines] == ["span-2/train/*/*.txt:files=9", "span-3/train/*/*.txt:files=9"]
    assert json.loads(resolved["input_config"])["splits"][0]["pattern"] == "span-3/train/*/*.txt"

    review = next((tmp_path / "span-2" / "train" / "pos").iterdir())
    review.write_text(review.read_text() + " Replaced.")
    assert _resolve(tmp_path, window=2)["input_fingerprint"] != resolved["input_fingerprint"]
    # A span outside the window is not read, and not fingerprinted.
    before = _resolve(tmp_path, window=1)["input_fingerprint"]
    (tmp_path / "span-1" / "train" / "pos" / "999_9.txt").write_text("Added to a span no run reads.")
    assert _resolve(tmp_path, window=1)["input_fingerprint"] == before


def test_an_empty_newest_span_folder_is_not_the_newest_span(tmp_path):
    _spans(tmp_path, 1)
    (tmp_path / "span-2" / "train" / "pos").mkdir(parents=True)  # still being copied
    assert _resolve(tmp_path, window=1)["span"] == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"No span-N/ folder under .*empty holds a file matching span-N/train"):
        _resolve(empty, window=1)


def test_each_folder_is_listed_once_whatever_the_patterns_that_share_it(tmp_path):
    _spans(tmp_path, 1)
    data = listing.DataRootListing(str(tmp_path))
    data.fingerprint(["span-1/train/*/*.txt", "span-1/train/*/*.txt", "span-1/train/pos/*.txt"])
    data.files("span-1/train/*/*.txt")
    assert data.listings == 2  # span-1/train and span-1/train/pos
    # A segment-wise match, as a glob: train/*/*.txt does not match files two folders down.
    (tmp_path / "span-1" / "train" / "pos" / "deeper").mkdir()
    (tmp_path / "span-1" / "train" / "pos" / "deeper" / "1_1.txt").write_text("x")
    assert not [f for f in listing.DataRootListing(str(tmp_path)).files("span-1/train/*/*.txt") if "deeper" in f]


def test_a_bucket_folder_is_one_object_listing_without_its_folder_markers(monkeypatch):
    bucket = fake_gcs.Bucket()
    for name, size in (("spans/span-4/", 0), ("spans/span-4/train/", 0), ("spans/span-4/train/pos/", 0),
                       ("spans/span-4/train/pos/1_9.txt", 120), ("spans/span-4/train/neg/2_1.txt", 80)):
        bucket.put(name, size)
    fake_gcs.install(monkeypatch, reviews=bucket)
    data = listing.DataRootListing("gs://reviews/spans/")
    assert data.files("span-4/train/*/*.txt") == ["span-4/train/neg/2_1.txt", "span-4/train/pos/1_9.txt"]
    assert data.fingerprint(["span-4/train/*/*.txt"]).startswith("span-4/train/*/*.txt:files=2,bytes=200,sha256=")
    assert fake_gcs.Client.requests == [("reviews", "spans/span-4/train/")]


def test_a_listing_takes_sizes_and_stamps_from_the_walk(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("12345")
    os.symlink(tmp_path / "missing", tmp_path / "a" / "broken.txt")
    files = listing.list_folder(str(tmp_path))
    assert [(f.name, f.size) for f in files] == [("a/broken.txt", -1), ("a/x.txt", 5)]
    assert files[1].stamp == os.stat(tmp_path / "a" / "x.txt").st_mtime_ns


def test_linked_folders_are_listed_as_the_reader_globs_them_and_a_loop_ends(tmp_path):
    (tmp_path / "elsewhere" / "pos").mkdir(parents=True)
    (tmp_path / "elsewhere" / "pos" / "1_9.txt").write_text("A linked review.")
    (tmp_path / "train").mkdir()
    os.symlink(tmp_path / "elsewhere" / "pos", tmp_path / "train" / "pos")
    os.symlink(tmp_path / "train", tmp_path / "elsewhere" / "pos" / "loop")
    assert listing.DataRootListing(str(tmp_path)).files("train/*/*.txt") == ["train/pos/1_9.txt"]

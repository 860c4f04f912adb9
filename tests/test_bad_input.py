"""Bad input files: skipped or repaired by the ExampleGen, counted in its report; fatal layouts stop early."""

import json
import os
import random

import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs

from components.example_gen import aclimdb, executor
from pipeline import data
from pipeline.records import report
from tests import corpus
from tests.test_example_gen_executor import _exec_properties

TEN_MB = 10 * 1024 * 1024


@pytest.fixture
def troubled_corpus(tmp_path):
    """40 good reviews per label and folder, plus one file for each kind of trouble."""
    root = tmp_path / "aclImdb"
    counts = corpus.write_corpus(str(root), train_per_label=40, test_per_label=10)
    pos, neg = root / "train" / "pos", root / "train" / "neg"
    (pos / "900_9.txt").write_bytes("Caf\u00e9 was great".encode("latin-1"))  # not UTF-8
    (neg / "901_2.txt").write_bytes(b"")  # empty review
    (neg / "902_1.txt").write_bytes(b"   \n\t ")  # whitespace only
    (pos / "903_10.txt").write_bytes(b"great " * (TEN_MB // 6 + 1))  # a 10 MB review
    junk = random.Random(0).randbytes(4096)
    (neg / "904_3.txt").write_bytes(b"\x00\xff\xfe" + junk)  # binary junk
    (pos / "my_review.txt").write_text("Superb and moving", encoding="utf-8")  # not ID_RATING.txt
    (pos / "905_8.txt").mkdir()  # a folder where a file should be
    os.symlink(str(tmp_path / "nowhere.txt"), pos / "906_8.txt")  # dangling link
    os.symlink("907_8.txt", neg / "907_8.txt")  # symlink loop
    return str(root), counts


def _run(root, output_dir):
    examples = standard_artifacts.Examples()
    examples.uri = str(output_dir)
    executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, _exec_properties(root))
    by_id = {}
    for split in artifact_utils.decode_split_names(examples.split_names):
        files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz"))
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            by_id[example.features.feature["id"].bytes_list.value[0].decode()] = example
    with open(os.path.join(examples.uri, executor.INPUT_REPORT_FILE)) as f:
        return by_id, json.load(f)


def test_troubles_are_skipped_or_repaired_and_counted(troubled_corpus, tmp_path):
    root, counts = troubled_corpus
    by_id, input_report = _run(root, tmp_path / "examples")

    assert input_report["issue_counts"] == {
        "empty": 2, "invalid_utf8": 2, "truncated": 1, "unknown_rating": 1, "unreadable": 3,
    }
    kept = counts["train"] + counts["test"] + 4  # latin-1, 10 MB, junk, my_review
    assert input_report["reviews_kept"] == kept == len(by_id)
    assert sorted(input_report["issue_paths"]["empty"]) == sorted(
        os.path.join(root, "train", "neg", name) for name in ("901_2.txt", "902_1.txt")
    )
    unreadable = " ".join(input_report["issue_paths"]["unreadable"])
    assert all(name in unreadable for name in ("905_8.txt", "906_8.txt", "907_8.txt"))

    text = lambda review_id: by_id[review_id].features.feature["text"].bytes_list.value[0]  # noqa: E731
    assert text("train/pos/900_9") == "Caf\ufffd was great".encode("utf-8")
    assert len(text("train/pos/903_10")) == aclimdb.MAX_REVIEW_BYTES
    text("train/neg/904_3").decode("utf-8")  # repaired into valid UTF-8
    no_rating = by_id["train/pos/my_review"].features.feature
    assert (no_rating["label"].int64_list.value[0], no_rating["rating"].int64_list.value[0]) == (1, -1)
    assert not any("unsup" in review_id for review_id in by_id)

    lines = report.format_input_report(input_report)
    assert lines[0] == f"Input: {kept:,} reviews read"
    assert any(line.startswith("  3 unreadable (skipped): ") for line in lines)
    assert any(line.startswith("  2 not valid UTF-8 (kept") for line in lines)


@pytest.mark.parametrize("placed, line", [
    ({"by_movie": 100, "by_review": 0}, "Eval split: carved by movie (train/urls_*.txt): all reviews of a movie on one side"),
    ({"by_movie": 0, "by_review": 100}, "Eval split: carved by review (no URL lists name the movies)"),
    ({"by_movie": 98, "by_review": 2}, "Eval split: carved by movie for 98 reviews (train/urls_*.txt), by review for 2 "),
])
def test_the_summary_says_how_the_eval_split_was_carved(placed, line):
    lines = report.format_input_report({"reviews_kept": 100, "issue_counts": {}, "eval_split": placed})
    assert lines[-1].startswith(line)


def test_truncation_does_not_split_a_character(tmp_path):
    folder = tmp_path / "train" / "pos"
    folder.mkdir(parents=True)
    path = folder / "1_9.txt"
    path.write_bytes(b"a" + "\u00e9".encode("utf-8") * 10)  # 21 bytes
    review = aclimdb.read_review(str(path), max_bytes=4)  # cuts the second "é" in half
    assert review.truncated and not review.had_invalid_utf8
    assert review.text == "a\u00e9".encode("utf-8")


@pytest.mark.parametrize("split, label", [("train", "pos"), ("train", "neg"), ("test", "neg")])
def test_an_empty_label_folder_is_fatal(small_corpus, split, label):
    root, _ = small_corpus
    folder = os.path.join(root, split, label)
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    with pytest.raises(data.DataError, match=f"{folder} holds no review"):
        data.check_dataset_dir(root)


def test_no_train_folder_is_fatal(tmp_path):
    (tmp_path / "test" / "pos").mkdir(parents=True)
    with pytest.raises(data.DataError, match="train/pos is missing"):
        data.check_dataset_dir(str(tmp_path))

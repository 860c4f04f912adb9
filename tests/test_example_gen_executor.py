"""The aclImdb ExampleGen: its PTransform under Beam's TestPipeline, then the executor's Do()."""

import hashlib
import json
import os

import apache_beam as beam
from apache_beam.testing import util as beam_testing
import pytest
import tensorflow as tf
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import BY_MOVIE, BY_REVIEW, EVAL_SPLIT_REPORT_KEY, executor
from tests import corpus


def _exec_properties(root, include_test_split=True, eval_percent=20, include_unsup_split=False):
    """As the ExampleGen's driver hands them to the executor (a plain folder: span 0)."""
    return {
        example_gen_utils.SPAN_PROPERTY_NAME: 0,
        standard_component_specs.INPUT_BASE_KEY: root,
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(
            executor.make_input_config(include_test_split, include_unsup_split=include_unsup_split)
        ),
        standard_component_specs.OUTPUT_CONFIG_KEY: "{}",
        standard_component_specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(
            executor.make_custom_config(eval_percent)
        ),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: 6,  # FORMAT_TF_EXAMPLE
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: 5,  # FORMAT_TFRECORDS_GZIP
    }


def _ids(examples):
    return sorted(e.features.feature["id"].bytes_list.value[0].decode() for e in examples)


def _example(review_id):
    example = tf.train.Example()
    example.features.feature["id"].bytes_list.value.append(review_id.encode())
    return example


def test_join_movies_gives_each_train_example_the_movie_its_url_list_names(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "urls_pos.txt").write_text(
        "http://www.imdb.com/title/tt0000001/usercomments\nhttp://www.imdb.com/title/tt0000002/usercomments\n"
        "not a url\n")
    ids = ["train/pos/0_9", "train/pos/1_7", "train/pos/2_8", "train/neg/0_1", "train/pos/odd"]
    with beam.Pipeline() as pipeline:
        joined = (pipeline | beam.Create([_example(i) for i in ids])
                  | executor.JoinMovies(str(tmp_path), ["train"])
                  | beam.Map(lambda pair: (pair[0].features.feature["id"].bytes_list.value[0].decode(), pair[1])))
        # Line 2 names no movie, neg/ has no list, and an odd name has no line: None.
        beam_testing.assert_that(joined, beam_testing.equal_to([
            ("train/pos/0_9", "tt0000001"), ("train/pos/1_7", "tt0000002"), ("train/pos/2_8", None),
            ("train/neg/0_1", None), ("train/pos/odd", None)]))


def test_count_issues_keeps_each_kinds_count_and_its_first_paths_only():
    combine = executor.CountIssues()
    first = combine.create_accumulator()
    for number in range(30):
        first = combine.add_input(first, ("empty", f"p{number:02d}"))
    second = combine.add_input(combine.create_accumulator(), ("unreadable", "u"))
    second = combine.add_input(second, ("empty", "a"))
    counted = combine.extract_output(combine.merge_accumulators([first, second]))
    assert counted["empty"] == (31, ["a"] + [f"p{n:02d}" for n in range(19)])
    assert executor.summarize_issues(counted, 7) == {
        "reviews_kept": 7, "issue_counts": {"empty": 31, "unreadable": 1},
        "issue_paths": {"empty": ["a"] + [f"p{n:02d}" for n in range(19)], "unreadable": ["u"]}}


def test_ptransform_reads_every_labelled_review(small_corpus):
    root, counts = small_corpus
    expected_ids = sorted(
        f"test/{label}/{name[:-4]}"
        for label in ("pos", "neg")
        for name in os.listdir(os.path.join(root, "test", label))
    )
    with beam.Pipeline() as pipeline:
        examples = (pipeline | executor.ReadAclImdb(root, executor.TEST_FOLDER_PATTERN)).examples

        def check(actual):
            assert _ids(actual) == expected_ids
            for example in actual:
                feature = example.features.feature
                label = feature["label"].int64_list.value[0]
                assert feature["id"].bytes_list.value[0].startswith(b"test/pos/" if label else b"test/neg/")
                assert feature["rating"].int64_list.value[0] in ((7, 8, 9, 10) if label else (1, 2, 3, 4))
                assert feature["text"].bytes_list.value[0]

        beam_testing.assert_that(examples, check)


def test_ptransform_fails_clearly_without_reviews(tmp_path):
    (tmp_path / "train" / "pos").mkdir(parents=True)
    with pytest.raises(ValueError, match="No labelled review matches"):
        with beam.Pipeline() as pipeline:
            _ = pipeline | executor.ReadAclImdb(str(tmp_path), executor.TRAIN_FOLDER_PATTERN)


def _run_do(root, output_dir, include_test_split=True, include_unsup_split=False):
    examples = standard_artifacts.Examples()
    examples.uri = str(output_dir)
    executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]},
                           _exec_properties(root, include_test_split, include_unsup_split=include_unsup_split))
    split_names = artifact_utils.decode_split_names(examples.split_names)
    by_split = {}
    for split in split_names:
        files = fileio.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz"))
        records = tf.data.TFRecordDataset(files, compression_type="GZIP")
        by_split[split] = _ids(tf.train.Example.FromString(r.numpy()) for r in records)
    return split_names, by_split


def test_do_writes_train_eval_test_splits(small_corpus, tmp_path):
    root, counts = small_corpus
    split_names, by_split = _run_do(root, tmp_path / "run1")
    assert split_names == ["train", "eval", "test"]
    assert len(by_split["train"]) + len(by_split["eval"]) == counts["train"]
    assert len(by_split["test"]) == counts["test"]
    assert not set(by_split["train"]) & set(by_split["eval"])
    assert 0 < len(by_split["eval"]) < len(by_split["train"])
    assert all(i.startswith("test/") for i in by_split["test"])

    # The split is a function of the file names, the same in every process: SHA-256 of the review's
    # id, its first 8 bytes modulo 100 below 20. (Review 0 of each label has a movie in the URL
    # lists, so its key is the movie's.)
    def sha256_percent(key):
        return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % 100

    with_id_key = [i for i in by_split["train"] + by_split["eval"] if not i.split("/")[2].startswith("0_")]
    assert [i for i in sorted(with_id_key) if sha256_percent(i) < 20] == [
        i for i in by_split["eval"] if i in with_id_key]


def test_do_without_test_folder(small_corpus, tmp_path):
    root, counts = small_corpus
    split_names, by_split = _run_do(root, tmp_path / "out", include_test_split=False)
    assert split_names == ["train", "eval"]
    assert sum(len(ids) for ids in by_split.values()) == counts["train"]


def test_do_carves_eval_by_movie_when_the_url_lists_name_them(tmp_path):
    root = str(tmp_path / "aclImdb")
    # 60 reviews per label, 6 per movie: 10 movies per label folder.
    counts = corpus.write_corpus(root, train_per_label=60, test_per_label=None, reviews_per_movie=6)
    split_names, by_split = _run_do(root, tmp_path / "out", include_test_split=False)
    assert sum(len(ids) for ids in by_split.values()) == counts["train"] == 120
    movie = lambda review_id: (review_id.split("/")[1], int(review_id.split("/")[2].split("_")[0]) // 6)  # noqa: E731
    train_movies = {movie(i) for i in by_split["train"]}
    eval_movies = {movie(i) for i in by_split["eval"]}
    assert not train_movies & eval_movies  # no movie on both sides
    assert len(train_movies | eval_movies) == 20 and eval_movies
    assert len(by_split["eval"]) == 6 * len(eval_movies)
    with open(tmp_path / "out" / executor.INPUT_REPORT_FILE) as f:
        report = json.load(f)
    assert report[EVAL_SPLIT_REPORT_KEY] == {BY_MOVIE: 120, BY_REVIEW: 0}


def test_do_reports_a_split_by_review_without_url_lists(small_corpus, tmp_path):
    root, counts = small_corpus  # its URL lists name a movie for review 0 of each label only
    _run_do(root, tmp_path / "out", include_test_split=False)
    with open(tmp_path / "out" / executor.INPUT_REPORT_FILE) as f:
        report = json.load(f)
    assert report[EVAL_SPLIT_REPORT_KEY] == {BY_MOVIE: 2, BY_REVIEW: counts["train"] - 2}


def test_do_reads_unlabelled_reviews_into_an_unsup_split(tmp_path):
    root = str(tmp_path / "aclImdb")
    counts = corpus.write_corpus(root, train_per_label=20, test_per_label=5, unsup_reviews=30)
    split_names, by_split = _run_do(root, tmp_path / "out", include_unsup_split=True)
    assert split_names == ["train", "eval", "test", "unsup"]
    assert by_split["unsup"] == sorted(f"train/unsup/{i}_0" for i in range(30))
    assert len(by_split["train"]) + len(by_split["eval"]) == counts["train"]  # no unlabelled review among them
    files = fileio.glob(os.path.join(str(tmp_path / "out"), "Split-unsup", "*.gz"))
    example = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(files, compression_type="GZIP"))).numpy())
    assert "label" not in example.features.feature
    assert example.features.feature["rating"].int64_list.value == [0]


def test_make_custom_config_rejects_bad_share():
    with pytest.raises(ValueError, match="eval_percent"):
        executor.make_custom_config(100)


def test_do_over_spans_reads_the_window_up_to_the_resolved_span(tmp_path):
    from tests import corpus

    root = str(tmp_path / "spans")
    for span, test_per_label in ((1, 4), (2, None), (3, 3), (4, 2)):
        corpus.write_corpus(os.path.join(root, f"span-{span}"), train_per_label=20, test_per_label=test_per_label,
                            seed=span)
    properties = _exec_properties(root)
    properties[standard_component_specs.INPUT_CONFIG_KEY] = proto_utils.proto_to_json(
        executor.make_input_config(include_test_split=True, spans=True))
    properties[standard_component_specs.CUSTOM_CONFIG_KEY] = proto_utils.proto_to_json(
        executor.make_custom_config(20, window=3))
    properties["span"] = 3  # as TFX's driver resolves it (span 4 arrived later, say)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out")
    executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, properties)
    by_split = {}
    for split in artifact_utils.decode_split_names(examples.split_names):
        files = fileio.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz"))
        by_split[split] = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]

    def spans(split):
        return sorted({e.features.feature["span"].int64_list.value[0] for e in by_split[split]})

    # The window of 3 up to span 3: spans 1-3; test/ where a span has it.
    assert spans("train") == spans("eval") == [1, 2, 3]
    assert len(by_split["train"]) + len(by_split["eval"]) == 3 * 40
    assert spans("test") == [1, 3] and len(by_split["test"]) == 2 * 4 + 2 * 3
    ids = _ids(e for split in by_split.values() for e in split)
    assert len(ids) == len(set(ids))  # equal file names in each span, distinct ids
    assert executor.window_spans(root, newest=4, window=2) == [3, 4]


def test_without_a_driver_the_executor_resolves_the_newest_span_and_records_it(tmp_path):
    """As on open-source Kubeflow Pipelines, which runs no driver hook."""
    root = tmp_path / "spans"
    for span in (1, 2):
        corpus.write_corpus(str(root / f"span-{span}"), train_per_label=10, test_per_label=None, seed=span)
    properties = _exec_properties(str(root), include_test_split=False)
    del properties[example_gen_utils.SPAN_PROPERTY_NAME]
    properties[standard_component_specs.INPUT_CONFIG_KEY] = proto_utils.proto_to_json(
        executor.make_input_config(False, spans=True))
    properties[standard_component_specs.CUSTOM_CONFIG_KEY] = proto_utils.proto_to_json(
        executor.make_custom_config(20, window=1))
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, properties)
    recorded = examples.mlmd_artifact.custom_properties
    assert recorded[example_gen_utils.SPAN_PROPERTY_NAME].int_value == 2
    # The fingerprint of the files the window's pattern matches: 20 reviews and the unsup/ one the corpus writes.
    assert recorded[example_gen_utils.FINGERPRINT_PROPERTY_NAME].string_value.startswith(
        "span-2/train/*/*.txt:files=21,bytes=")
    ids = [tf.train.Example.FromString(record.numpy()).features.feature["id"].bytes_list.value[0].decode()
           for split in ("train", "eval")
           for record in tf.data.TFRecordDataset(
               tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz")),
               compression_type="GZIP")]
    assert len(ids) == 20 and all(i.startswith("span-2/") for i in ids)

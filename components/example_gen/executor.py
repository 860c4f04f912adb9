"""Executor of the aclImdb ExampleGen: TFX plumbing around ``aclimdb``.

Reads ``train/{pos,neg}`` once and carves the ``eval`` split out of it by a hash
of each review's movie (from the URL lists ``train/urls_{pos,neg}.txt``, so that all
reviews of a movie land on one side, as in the official split), or of the review's ID
where no URL list names its movie; reads ``test/{pos,neg}`` into ``test`` when that
split is configured.

Over spans (``DATA/span-N/``), the input patterns carry TFX's ``{SPAN}``: the newest span
K is resolved before the executor runs, and the executor reads the rolling window of the
last ``window`` spans up to K into the same splits, so that Transform and Trainer work on
the window. Who resolves K: TFX's ExampleGen driver (local runner, Vertex AI's
``preCacheCheck``), the Kubeflow input probe (``pipeline/runners/kfp_container.py``), or, when
none of them ran, ``resolve_input`` in the executor itself. Either way the span and the
input fingerprint are recorded on the Examples artifact.
"""

import heapq
import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

from absl import logging

import apache_beam as beam
import tensorflow as tf
from google.protobuf import struct_pb2
from tfx.components.example_gen import driver as example_gen_driver, utils as example_gen_utils
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import (  # the patterns here too: the executor's names, as tests and callers use them
    BY_MOVIE, BY_REVIEW, DEFAULT_EVAL_PERCENT, EVAL_SPLIT, EVAL_SPLIT_REPORT_KEY, INPUT_REPORT_FILE, SPAN_FOLDER_PREFIX,
    SPAN_PATTERN_PREFIX, SPAN_SPEC, TEST_FOLDER_PATTERN, TEST_SPLIT, TRAIN_FOLDER_PATTERN, TRAIN_SPLIT,
    UNSUP_FOLDER_PATTERN, UNSUP_SPLIT, aclimdb, check_eval_percent, check_window, list_spans)
from components.example_gen.listing import DataRootListing, window_patterns

EVAL_PERCENT_KEY = "eval_percent"
WINDOW_KEY = "window"  # spans read, newest last; absent for a plain aclImdb folder

COUNTER_NAMESPACE = "aclimdb"


def make_input_config(
    include_test_split: bool, spans: bool = False, include_unsup_split: bool = False
) -> example_gen_pb2.Input:
    """The input splits: train and eval both read the train folder; test the test folder;
    unsup the unlabelled reviews of ``train/unsup/``.

    With ``spans``, the patterns are those of the newest span, ``span-{SPAN}/...``.
    """
    prefix = SPAN_PATTERN_PREFIX if spans else ""
    splits = [
        example_gen_pb2.Input.Split(name=TRAIN_SPLIT, pattern=prefix + TRAIN_FOLDER_PATTERN),
        example_gen_pb2.Input.Split(name=EVAL_SPLIT, pattern=prefix + TRAIN_FOLDER_PATTERN),
    ]
    if include_test_split:
        splits.append(example_gen_pb2.Input.Split(name=TEST_SPLIT, pattern=prefix + TEST_FOLDER_PATTERN))
    if include_unsup_split:
        splits.append(example_gen_pb2.Input.Split(name=UNSUP_SPLIT, pattern=prefix + UNSUP_FOLDER_PATTERN))
    return example_gen_pb2.Input(splits=splits)


def make_custom_config(eval_percent: int, window: Optional[int] = None) -> example_gen_pb2.CustomConfig:
    """Packs the executor's own settings into ExampleGen's ``custom_config``.

    Args:
      eval_percent: Share of each train folder that goes to ``eval``.
      window: Over spans, how many of the newest spans to read; None for a plain folder.
    """
    check_eval_percent(eval_percent)
    values = {EVAL_PERCENT_KEY: eval_percent}
    if window is not None:
        check_window(window)
        values[WINDOW_KEY] = window
    settings = struct_pb2.Struct()
    settings.update(values)
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(settings)
    return config


def _custom_settings(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    settings = struct_pb2.Struct()
    if raw:
        config = example_gen_pb2.CustomConfig()
        proto_utils.json_to_proto(raw, config)
        config.custom_config.Unpack(settings)
    return {key: int(value) for key, value in settings.items()}


def resolve_input(input_base: str, input_config_json: str, custom_config_json: Optional[str] = None) -> Dict[str, Any]:
    """What the ExampleGen's driver works out before a run: the newest span and the input fingerprint.

    Each folder read is listed once (``listing.DataRootListing``), and the fingerprint covers every
    span of the window, not only the newest, so that a changed older span is seen too.

    Returns:
      The execution properties it sets: ``span`` (the newest span folder whose train pattern
      matches a file; 0 without ``{SPAN}``), ``version`` (None), ``input_fingerprint`` (per distinct
      pattern of the window: file count, bytes and a digest of names, sizes and version stamps) and
      ``input_config`` with the span filled into the patterns.

    Raises:
      ValueError: If the patterns hold ``{SPAN}`` and no span folder holds a review.
    """
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(input_config_json, input_config)
    listing = DataRootListing(input_base)
    patterns = [split.pattern for split in input_config.splits]
    span = 0
    if any(SPAN_SPEC in pattern for pattern in patterns):
        train_pattern = next((split.pattern for split in input_config.splits if split.name == TRAIN_SPLIT), None)
        if train_pattern is None:
            raise ValueError(f"input_config has no {TRAIN_SPLIT} split to find the newest span by. Fix: build it with "
                             f"make_input_config().")
        span = next((candidate for candidate in reversed(list_spans(input_base))
                     if listing.files(train_pattern.replace(SPAN_SPEC, str(candidate)))), None)
        if span is None:
            raise ValueError(f"No {SPAN_FOLDER_PREFIX}N/ folder under {input_base} holds a file matching "
                             f"{train_pattern.replace(SPAN_SPEC, 'N')}. Fix: copy a span's reviews there "
                             f"({SPAN_FOLDER_PREFIX}1/train/pos/*.txt, .../neg/*.txt).")
        window = _custom_settings({standard_component_specs.CUSTOM_CONFIG_KEY: custom_config_json}).get(WINDOW_KEY, 1)
        fingerprint = listing.fingerprint(
            window_patterns(patterns, SPAN_SPEC, window_spans(input_base, span, window)))
        for split in input_config.splits:
            split.pattern = split.pattern.replace(SPAN_SPEC, str(span))
    else:
        fingerprint = listing.fingerprint(patterns)
    return {
        example_gen_utils.SPAN_PROPERTY_NAME: span,
        example_gen_utils.VERSION_PROPERTY_NAME: None,
        example_gen_utils.FINGERPRINT_PROPERTY_NAME: fingerprint,
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
    }


def window_spans(input_base: str, newest: int, window: int) -> List[int]:
    """The spans a run reads: the last ``window`` span folders up to ``newest``, oldest first."""
    return [span for span in list_spans(input_base) if span <= newest][-window:]


# Kinds of input problems the reader works around, as counted in the input report.
ISSUE_INVALID_UTF8 = "invalid_utf8"  # kept, undecodable bytes replaced with U+FFFD
ISSUE_UNKNOWN_RATING = "unknown_rating"  # kept, name not ID_RATING.txt: rating -1
ISSUE_TRUNCATED = "truncated"  # kept, cut at aclimdb.MAX_REVIEW_BYTES
ISSUE_EMPTY = "empty"  # skipped: no text
ISSUE_UNREADABLE = "unreadable"  # skipped: broken or looping link, folder, no permission

# Paths listed per kind of issue in the report (all are counted).
_REPORTED_PATHS = 20

_ISSUES_TAG = "issues"
# The two sides of the join of train examples with their movies.
_EXAMPLE, _MOVIE = "example", "movie"


class _ReadReviewFn(beam.DoFn):
    """Reads one review file into a tf.Example; problems go to the ``issues`` output."""

    def __init__(self):
        self._reviews = beam.metrics.Metrics.counter(COUNTER_NAMESPACE, "reviews")

    def process(self, path: str):
        try:
            review = aclimdb.read_review(path)
        except aclimdb.UnreadableReviewError as err:
            yield beam.pvalue.TaggedOutput(_ISSUES_TAG, (ISSUE_UNREADABLE, str(err)))
            return
        if aclimdb.is_empty(review):
            yield beam.pvalue.TaggedOutput(_ISSUES_TAG, (ISSUE_EMPTY, path))
            return
        for flagged, kind in (
            (review.had_invalid_utf8, ISSUE_INVALID_UTF8),
            (review.rating == aclimdb.UNKNOWN_RATING, ISSUE_UNKNOWN_RATING),
            (review.truncated, ISSUE_TRUNCATED),
        ):
            if flagged:
                yield beam.pvalue.TaggedOutput(_ISSUES_TAG, (kind, path))
        self._reviews.inc()
        yield aclimdb.to_tf_example(review)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
def ReadAclImdb(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, input_base: str, split_pattern: str, unlabelled: bool = False
) -> beam.pvalue.DoOutputsTuple:
    """Reads labelled reviews (or, with ``unlabelled``, those of ``unsup/``) into tf.Examples,
    and reports what it skipped or repaired.

    Returns:
      ``.examples``: tf.Examples; ``.issues``: ``(kind, path)`` pairs (see ``ISSUE_*``).

    Raises:
      ValueError: If the pattern matches no labelled review in a ``pos`` or ``neg`` folder.
    """
    pattern = os.path.join(input_base, split_pattern)
    if not unlabelled and not aclimdb.labelled_review_files(pattern):
        raise ValueError(
            f"No labelled review matches {pattern}: expected files in "
            f"{os.path.dirname(os.path.dirname(pattern))}/pos/ and /neg/ (aclImdb layout)."
        )
    # The files are listed by a worker, not put into the pipeline's graph: a distributed runner
    # ships the graph to its service (Dataflow refuses one over 10 MB: about 100,000 paths).
    return (
        pipeline
        | "Pattern" >> beam.Create([pattern])
        | "ListFiles" >> beam.FlatMap(aclimdb.labelled_review_files, unlabelled=unlabelled)
        # One worker lists a folder; reshuffle so the reads spread over workers.
        | "Reshuffle" >> beam.Reshuffle()
        | "ReadReviews" >> beam.ParDo(_ReadReviewFn()).with_outputs(_ISSUES_TAG, main="examples")
    )


class CountIssues(beam.CombineFn):
    """``(kind, path)`` issues to each kind's count and its first ``_REPORTED_PATHS`` paths in sorted order.

    A combine, not a list of every issue: its state is bounded however many files are bad.
    """

    def create_accumulator(self) -> Dict[str, Tuple[int, List[str]]]:
        return {}

    def add_input(self, counted, issue):
        kind, path = issue
        count, paths = counted.get(kind, (0, []))
        counted[kind] = count + 1, heapq.nsmallest(_REPORTED_PATHS, [*paths, path])
        return counted

    def merge_accumulators(self, accumulators):
        merged: Dict[str, Tuple[int, List[str]]] = {}
        for counted in accumulators:
            for kind, (count, paths) in counted.items():
                total, kept = merged.get(kind, (0, []))
                merged[kind] = total + count, heapq.nsmallest(_REPORTED_PATHS, [*kept, *paths])
        return merged

    def extract_output(self, counted):
        return counted


def summarize_issues(counted: Dict[str, Tuple[int, List[str]]], reviews_kept: int) -> Dict[str, Any]:
    """The input report: how many reviews were kept, and each kind of issue with example paths (``CountIssues``)."""
    return {"reviews_kept": reviews_kept, "issue_counts": {kind: counted[kind][0] for kind in sorted(counted)},
            "issue_paths": {kind: counted[kind][1] for kind in sorted(counted)}}


def _write_report(report: Dict[str, Any], path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(report, f, indent=1)


def _review_id(example: tf.train.Example) -> str:
    return example.features.feature[aclimdb.ID_KEY].bytes_list.value[0].decode("utf-8")


def _split_of(example_and_movie: Tuple[tf.train.Example, Optional[str]], eval_percent: int) -> int:
    example, movie = example_and_movie
    return 1 if aclimdb.is_eval_review(_review_id(example), eval_percent, movie) else 0


def _with_movie(key_and_grouped: Tuple[str, Dict[str, list]]) -> Iterator[Tuple[tf.train.Example, Optional[str]]]:
    """The examples of one review key (one, unless two files share an id) with the movie the URL lists name."""
    _, grouped = key_and_grouped
    movie = grouped[_MOVIE][0] if grouped[_MOVIE] else None
    for example in grouped[_EXAMPLE]:
        yield example, movie


@beam.ptransform_fn
def JoinMovies(  # pylint: disable=invalid-name
    examples: beam.PCollection, input_base: str, split_folders: List[str]
) -> beam.PCollection:
    """Train examples to ``(example, movie or None)``, the movie from the URL lists of ``split_folders``.

    A join by review key (CoGroupByKey), not a map of every review on every worker: a key holds
    one review and one movie however large the data.
    """
    url_lists = [(input_base, folder, label) for folder in split_folders for label in sorted(aclimdb.LABEL_FOLDERS)]
    movies = (examples.pipeline
              | "ListUrlLists" >> beam.Create(url_lists)
              | "ReadUrlLists" >> beam.FlatMap(lambda url_list: aclimdb.movie_lines(*url_list)))
    keyed = examples | "KeyByReview" >> beam.Map(lambda example: (aclimdb.review_key(_review_id(example)), example))
    return ({_EXAMPLE: keyed, _MOVIE: movies}
            | "GroupByReview" >> beam.CoGroupByKey()
            | "WithMovie" >> beam.FlatMap(_with_movie))


class AclImdbDriver(example_gen_driver.FileBasedDriver):
    """TFX's file-based ExampleGen driver, resolving with ``resolve_input``: the fingerprint of the whole
    window, from listings."""

    def resolve_exec_properties(self, exec_properties, pipeline_info, component_info) -> Dict[str, Any]:
        del pipeline_info, component_info
        exec_properties.update(resolve_input(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                                             exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                             exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)))
        return exec_properties


class Executor(BaseExampleGenExecutor):
    """ExampleGen executor for an aclImdb folder.

    Besides the splits, writes ``input_report.json`` into the Examples artifact:
    reviews kept, and what was skipped (empty, unreadable) or repaired (invalid
    UTF-8, unknown rating, truncated), with example paths.
    """

    _input_report_path = None

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        # Abstract in the base class, which calls it only from the GenerateExamplesByBeam overridden below.
        raise NotImplementedError("GenerateExamplesByBeam reads the aclImdb folder with ReadAclImdb")

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        exec_properties = dict(exec_properties)
        if example_gen_utils.SPAN_PROPERTY_NAME not in exec_properties:
            # No driver ran (open-source Kubeflow Pipelines runs none): resolve the span here.
            exec_properties.update(resolve_input(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                                                 exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                                 exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)))
            logging.info("Resolved span %d of %s (no driver ran)", exec_properties[example_gen_utils.SPAN_PROPERTY_NAME],
                         exec_properties[standard_component_specs.INPUT_BASE_KEY])
        exec_properties.setdefault(example_gen_utils.VERSION_PROPERTY_NAME, None)
        # A pipeline parameter arrives as a JSON number.
        exec_properties[example_gen_utils.SPAN_PROPERTY_NAME] = int(exec_properties[example_gen_utils.SPAN_PROPERTY_NAME])
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        # Span and fingerprint on the artifact, as TFX's driver records them (idempotent where it did).
        example_gen_driver.update_output_artifact(exec_properties, examples.mlmd_artifact)
        self._input_report_path = os.path.join(examples.uri, INPUT_REPORT_FILE)
        super().Do(input_dict, output_dict, exec_properties)

    def GenerateExamplesByBeam(
        self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any]
    ) -> Dict[str, beam.pvalue.PCollection]:
        """Reads the train folder once and partitions it into train and eval.

        The base class reads each input split separately and cannot split one
        input into two outputs while another input (test) stays whole.
        """
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        patterns = {split.name: split.pattern for split in input_config.splits}
        expected = {TRAIN_SPLIT, EVAL_SPLIT}
        optional = {TEST_SPLIT, UNSUP_SPLIT}
        if not expected <= set(patterns) <= expected | optional or patterns[EVAL_SPLIT] != patterns[TRAIN_SPLIT]:
            raise ValueError(
                f"Unsupported input_config {patterns}: build it with make_input_config(), which "
                f"reads train and eval from one folder and, optionally, test and unsup from others."
            )
        settings = _custom_settings(exec_properties)
        eval_percent = settings.get(EVAL_PERCENT_KEY, DEFAULT_EVAL_PERCENT)
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]

        # The folders each split reads: the configured ones, or over spans those of the window.
        folders = {TRAIN_SPLIT: [patterns[TRAIN_SPLIT]]}
        for split in sorted(optional & set(patterns)):
            folders[split] = [patterns[split]]
        if WINDOW_KEY in settings:
            newest = int(exec_properties[example_gen_utils.SPAN_PROPERTY_NAME])
            spans = window_spans(input_base, newest, settings[WINDOW_KEY])
            logging.info("Reading the window of spans %s (newest %d)", spans, newest)
            prefix = lambda span: f"{SPAN_FOLDER_PREFIX}{span}/"  # noqa: E731
            folders[TRAIN_SPLIT] = [prefix(span) + TRAIN_FOLDER_PATTERN for span in spans]
            if TEST_SPLIT in patterns:
                folders[TEST_SPLIT] = [prefix(span) + TEST_FOLDER_PATTERN for span in spans
                                       if aclimdb.labelled_review_files(os.path.join(input_base, prefix(span) + TEST_FOLDER_PATTERN))]
            if UNSUP_SPLIT in patterns:
                folders[UNSUP_SPLIT] = [prefix(span) + UNSUP_FOLDER_PATTERN for span in spans]

        read = {split: [pipeline | f"Read{split.capitalize()}-{i}" >> ReadAclImdb(
                            input_base, pattern, unlabelled=split == UNSUP_SPLIT)
                        for i, pattern in enumerate(split_folders)]
                for split, split_folders in folders.items()}
        # e.g. span-2/train/*/*.txt: the URL lists are in span-2/train
        train_folders = [os.path.dirname(os.path.dirname(pattern)) for pattern in folders[TRAIN_SPLIT]]
        train_examples = [r.examples for r in read[TRAIN_SPLIT]] | "FlattenTrainFolders" >> beam.Flatten()
        with_movies = train_examples | "JoinMovies" >> JoinMovies(input_base, train_folders)
        train, evaluation = with_movies | "SplitTrainEval" >> beam.Partition(
            lambda example_and_movie, _: _split_of(example_and_movie, eval_percent), 2)
        result = {TRAIN_SPLIT: train | "TrainExamples" >> beam.Keys(),
                  EVAL_SPLIT: evaluation | "EvalExamples" >> beam.Keys()}
        for split in sorted(optional & set(read)):
            result[split] = [r.examples for r in read[split]] | f"Flatten{split.capitalize()}Folders" >> beam.Flatten()
        all_examples = [r.examples for reads in read.values() for r in reads]
        all_issues = [r[_ISSUES_TAG] for reads in read.values() for r in reads]

        if self._input_report_path:
            kept = tuple(all_examples) | "FlattenExamples" >> beam.Flatten() | "CountKept" >> beam.combiners.Count.Globally()
            issues = tuple(all_issues) | "FlattenIssues" >> beam.Flatten() | "CountIssues" >> beam.CombineGlobally(CountIssues())
            placed = (
                with_movies
                | "PlacedBy" >> beam.Map(lambda example_and_movie: BY_MOVIE if example_and_movie[1] else BY_REVIEW)
                | "CountPlacedBy" >> beam.combiners.Count.PerElement()
                | "ListPlacedBy" >> beam.combiners.ToDict()
            )
            report_path = self._input_report_path
            _ = (
                kept
                | "Summarize" >> beam.Map(
                    lambda count, issues, placed: {
                        **summarize_issues(issues, count),
                        EVAL_SPLIT_REPORT_KEY: {BY_MOVIE: placed.get(BY_MOVIE, 0), BY_REVIEW: placed.get(BY_REVIEW, 0)},
                    },
                    issues=beam.pvalue.AsSingleton(issues), placed=beam.pvalue.AsSingleton(placed))
                | "WriteReport" >> beam.Map(_write_report, report_path)
            )
        return result

"""An ExampleGen over the aclImdb folder layout (Large Movie Review Dataset v1.0)."""

import re
from typing import List

from components import file_system

# Kept here, free of TensorFlow imports, so that the command line can show it quickly.
DEFAULT_EVAL_PERCENT = 20  # share of train/ held out as the eval split, in percent

# A data root of spans holds one aclImdb folder per span: span-1/, span-2/, ...
SPAN_FOLDER_PREFIX = "span-"
SPAN_FOLDER_RE = re.compile(r"^span-(\d+)$")
# A file of this name in a span's folder keeps the span out of every window, locally and on Kubeflow, as if
# the folder were absent; deleting the file brings the span back (its files are fingerprinted again).
EXCLUDE_MARKER = "EXCLUDE"
# Written into the Examples artifact beside the Split-* folders (the executor's report of its input).
INPUT_REPORT_FILE = "input_report.json"
# The tf.Example features the ExampleGen writes: a review's text, its label (1 positive, 0 negative; none
# in unsup/ and at serving time), and its span (0 in a plain aclImdb folder).
TEXT_KEY = "text"
LABEL_KEY = "label"
SPAN_KEY = "span"

# The Examples' splits: train/ less the held-out movies, the eval split carved from it, test/, and train/unsup/
# (unlabelled reviews, for the Word2Vec embedding only).
TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
TEST_SPLIT = "test"
UNSUP_SPLIT = "unsup"

# Input split patterns, relative to the dataset root (over spans, to the span's folder, after SPAN_PATTERN_PREFIX).
# `eval` is carved from the train folder.
TRAIN_FOLDER_PATTERN = "train/*/*.txt"
TEST_FOLDER_PATTERN = "test/*/*.txt"
UNSUP_FOLDER_PATTERN = "train/unsup/*.txt"
SPAN_SPEC = "{SPAN}"  # TFX's span placeholder in an input pattern
SPAN_PATTERN_PREFIX = SPAN_FOLDER_PREFIX + SPAN_SPEC + "/"


def list_spans(data_root: str, excluded: bool = False) -> List[int]:
    """The span numbers of the ``span-N/`` folders of a data root (a path or URI), ascending, without those
    the operator excluded (an ``EXCLUDE`` file in the span's folder); with ``excluded``, only those.

    A local folder is listed without TensorFlow, so that a retraining iteration with no new span
    answers quickly; a URI (gs://, s3://) needs TensorFlow's file systems.
    """
    files = file_system.for_path(data_root)
    if not files.isdir(data_root):
        return []
    spans = []
    for name in files.listdir(data_root):
        match = SPAN_FOLDER_RE.match(name.rstrip("/"))
        folder = file_system.child(data_root, name)
        if match and files.isdir(folder) and files.exists(file_system.child(folder, EXCLUDE_MARKER)) == excluded:
            spans.append(int(match.group(1)))
    return sorted(spans)


def check_eval_percent(eval_percent: int) -> None:
    """Raises ValueError unless ``eval_percent`` leaves both train and eval non-empty."""
    if isinstance(eval_percent, bool) or not isinstance(eval_percent, int) or not 0 < eval_percent < 100:
        raise ValueError(f"eval_percent must be between 1 and 99, got {eval_percent!r}")


def check_window(window: int) -> None:
    """Raises ValueError unless ``window`` is a positive number of spans."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive number of spans, got {window!r}")


# How the eval split was carved, in the ExampleGen's input report: how many train reviews were
# placed by their movie (named in the URL lists), and how many by their own id.
EVAL_SPLIT_REPORT_KEY = "eval_split"
BY_MOVIE = "by_movie"
BY_REVIEW = "by_review"

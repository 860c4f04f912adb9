"""An ExampleGen over the aclImdb folder layout (Large Movie Review Dataset v1.0)."""

import re

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
# The tf.Example feature of a review's span; 0 in a plain aclImdb folder.
SPAN_KEY = "span"

# Input split patterns, relative to the dataset root (over spans, to the span's folder, after SPAN_PATTERN_PREFIX).
# `eval` is carved from the train folder.
TRAIN_FOLDER_PATTERN = "train/*/*.txt"
TEST_FOLDER_PATTERN = "test/*/*.txt"
UNSUP_FOLDER_PATTERN = "train/unsup/*.txt"
SPAN_SPEC = "{SPAN}"  # TFX's span placeholder in an input pattern
SPAN_PATTERN_PREFIX = SPAN_FOLDER_PREFIX + SPAN_SPEC + "/"


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

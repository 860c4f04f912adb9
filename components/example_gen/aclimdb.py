"""Reading the aclImdb folder layout into tf.Examples, with no TFX types.

The Large Movie Review Dataset keeps one review per file::

    aclImdb/
      train/pos/ID_RATING.txt   label 1 (rating 7-10)
      train/neg/ID_RATING.txt   label 0 (rating 1-4)
      train/unsup/ID_0.txt      unlabelled (rating 0): read only into an ``unsup`` split, never labelled
      train/urls_pos.txt        line N: the IMDb page of the movie of pos/N_*.txt (also urls_neg.txt)
      test/pos/, test/neg/      the official test split, same layout

IDs restart in every folder, so a review's identity is its path relative to the
dataset root without the extension, e.g. ``train/pos/123_9``.

A data root may instead hold spans, each an aclImdb-layout folder of newer reviews:
``DATA/span-1/train/...``, ``DATA/span-2/...``. A review's id then starts with its span
(``span-2/train/pos/123_9``), so equal file names in two spans stay two reviews.
"""

import dataclasses
import hashlib
import os
import re
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

import tensorflow as tf

from components.example_gen import LABEL_KEY, SPAN_FOLDER_RE, SPAN_KEY, TEXT_KEY

# Feature keys of the tf.Examples this reader produces.
RATING_KEY = "rating"
ID_KEY = "id"

LABEL_FOLDERS = {"neg": 0, "pos": 1}
UNLABELLED_FOLDER = "unsup"
# Written when a file name does not follow ID_RATING.txt; real ratings are 1-10.
UNKNOWN_RATING = -1
# Reviews are cut at this size. The longest aclImdb review is about 14 KB; a larger
# file is almost certainly not a review, and would flood the vocabulary counts.
MAX_REVIEW_BYTES = 200_000

_FILE_NAME_RE = re.compile(r"^(\d+)_(\d+)\.txt$")

# The URL list of a label folder, beside it: line N names the movie of review N.
URL_LIST_NAME = "urls_{label}.txt"
_MOVIE_ID_RE = re.compile(r"/title/(tt\d+)")


@dataclasses.dataclass(frozen=True)
class Review:
    """One labelled review.

    Attributes:
      review_id: Path relative to the dataset root, without ``.txt``.
      text: The review, UTF-8 encoded.
      label: 1 for a positive review, 0 for a negative one, None for an unlabelled one.
      rating: The star rating from the file name, or ``UNKNOWN_RATING``.
      had_invalid_utf8: Whether undecodable bytes were replaced with U+FFFD.
      truncated: Whether the file was longer than ``MAX_REVIEW_BYTES`` and was cut.
    """

    review_id: str
    text: bytes
    label: Optional[int]
    rating: int
    had_invalid_utf8: bool = False
    truncated: bool = False

    @property
    def span(self) -> int:
        """The span the review came from (``span-N/`` leading its id), or 0."""
        match = SPAN_FOLDER_RE.match(self.review_id.split("/", 1)[0])
        return int(match.group(1)) if match else 0


def labelled_review_files(folder_pattern: str, unlabelled: bool = False) -> List[str]:
    """Lists the review files a pattern matches that lie in a ``pos`` or ``neg`` folder.

    Args:
      folder_pattern: A glob over review files, e.g. ``/data/aclImdb/train/*/*.txt``.
      unlabelled: List those in ``unsup`` folders instead.

    Returns:
      The matching paths inside ``pos``/``neg`` (or ``unsup``) folders, sorted. Anything
      else the pattern matches (the other folders, URL lists) is left out.
    """
    folders = {UNLABELLED_FOLDER} if unlabelled else set(LABEL_FOLDERS)
    return sorted(
        path
        for path in tf.io.gfile.glob(folder_pattern)
        if os.path.basename(os.path.dirname(path)) in folders
    )


def parse_review_path(path: str) -> tuple:
    """Returns ``(review_id, label, rating)`` for a review file's path.

    The label comes from the folder (None in ``unsup/``); the rating from an
    ``ID_RATING.txt`` name, or ``UNKNOWN_RATING`` when the name does not follow that pattern.

    Raises:
      ValueError: If the file is not in a ``pos``, ``neg`` or ``unsup`` folder.
    """
    folder = os.path.dirname(path)
    label_folder = os.path.basename(folder)
    if label_folder not in LABEL_FOLDERS and label_folder != UNLABELLED_FOLDER:
        raise ValueError(f"{path} is not in a pos/, neg/ or unsup/ folder")
    split_folder = os.path.basename(os.path.dirname(folder))
    span_folder = os.path.basename(os.path.dirname(os.path.dirname(folder)))
    prefix = f"{span_folder}/" if SPAN_FOLDER_RE.match(span_folder) else ""
    name = os.path.basename(path)
    match = _FILE_NAME_RE.match(name)
    rating = int(match.group(2)) if match else UNKNOWN_RATING
    stem = name[: -len(".txt")] if name.endswith(".txt") else name
    return f"{prefix}{split_folder}/{label_folder}/{stem}", LABEL_FOLDERS.get(label_folder), rating


class UnreadableReviewError(Exception):
    """A review file could not be read (a broken or looping link, a folder, no permission)."""


def read_review(path: str, max_bytes: int = MAX_REVIEW_BYTES) -> Review:
    """Reads one review file.

    Bytes that are not UTF-8 are replaced with U+FFFD, not fatal; a file longer
    than ``max_bytes`` is cut there (at a character boundary).

    Raises:
      UnreadableReviewError: If the file cannot be read.
    """
    review_id, label, rating = parse_review_path(path)
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except (OSError, tf.errors.OpError) as err:
        raise UnreadableReviewError(f"{path}: {getattr(err, 'message', None) or err}") from err
    truncated = len(raw) > max_bytes
    if truncated:
        raw = raw[:max_bytes]
    try:
        text = raw.decode("utf-8")
        had_invalid_utf8 = False
    except UnicodeDecodeError as err:
        if truncated and err.start >= len(raw) - 3 and err.reason == "unexpected end of data":
            # Only the cut split a character: drop its first bytes.
            text, had_invalid_utf8 = raw[: err.start].decode("utf-8", errors="replace"), False
        else:
            text, had_invalid_utf8 = raw.decode("utf-8", errors="replace"), True
    return Review(review_id, text.encode("utf-8"), label, rating, had_invalid_utf8, truncated)


def movie_lines(dataset_root: str, split_folder: str, label: str) -> Iterator[Tuple[str, str]]:
    """``(review key, movie)`` for each line of one URL list, read as a stream (``read_movie_ids`` of one list).

    The review key is the review's id without its rating (``train/pos/123``, see ``review_key``).
    A missing list yields nothing; lines without an IMDb title are left out.
    """
    path = os.path.join(dataset_root, split_folder, URL_LIST_NAME.format(label=label))
    if not tf.io.gfile.exists(path):
        return
    with tf.io.gfile.GFile(path, "r") as f:
        for number, line in enumerate(f):
            match = _MOVIE_ID_RE.search(line)
            if match:
                yield f"{split_folder}/{label}/{number}", match.group(1)


def read_movie_ids(dataset_root: str, split_folder: str) -> Dict[str, str]:
    """The IMDb movie of each review of a split folder, from the URL lists beside its label folders.

    Args:
      dataset_root: The dataset root (a path or URI).
      split_folder: A folder under it holding ``pos/`` and ``neg/``, e.g. ``train`` or ``span-2/train``.

    Returns:
      ``{"train/pos/123": "tt0453418", ...}``: the review's id without its rating, to its
      movie; empty when there are no URL lists. Lines without an IMDb title are left out.
    """
    return {key: movie for label in LABEL_FOLDERS for key, movie in movie_lines(dataset_root, split_folder, label)}


def review_key(review_id: str) -> str:
    """The key a URL list gives a review: ``train/pos/123`` for ``train/pos/123_9``.

    A file named otherwise gets its own file name, a key no URL list line has.
    """
    folder, _, name = review_id.rpartition("/")
    match = _FILE_NAME_RE.match(name + ".txt")
    return f"{folder}/{match.group(1)}" if match else review_id + ".txt"


def movie_of(review_id: str, movies: Mapping[str, str]) -> Optional[str]:
    """The movie of a review (``train/pos/123_9``) in a ``read_movie_ids`` map, or None."""
    return movies.get(review_key(review_id))


def is_eval_review(review_id: str, eval_percent: int, movie: Optional[str] = None) -> bool:
    """Assigns a review of the train folder to the eval split by a hash of its movie, or of its ID.

    With the movie known, every review of one movie lands on the same side, as the
    official train/test split keeps movies apart; otherwise each review is placed on
    its own. SHA-256 rather than Python's ``hash`` so that the assignment is the same
    in every process, run and runner.
    """
    key = f"movie/{movie}" if movie else review_id
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < eval_percent


def to_tf_example(review: Review) -> tf.train.Example:
    """Converts a review to a tf.Example with the keys defined in this module (no label if it has none)."""
    feature = tf.train.Feature
    features = {
        TEXT_KEY: feature(bytes_list=tf.train.BytesList(value=[review.text])),
        RATING_KEY: feature(int64_list=tf.train.Int64List(value=[review.rating])),
        ID_KEY: feature(bytes_list=tf.train.BytesList(value=[review.review_id.encode("utf-8")])),
        SPAN_KEY: feature(int64_list=tf.train.Int64List(value=[review.span])),
    }
    if review.label is not None:
        features[LABEL_KEY] = feature(int64_list=tf.train.Int64List(value=[review.label]))
    return tf.train.Example(features=tf.train.Features(feature=features))


def is_empty(review: Review) -> bool:
    """Whether a review has no text but whitespace."""
    return not review.text.strip()


def read_reviews(folder_pattern: str) -> Iterable[Review]:
    """Reads every labelled review a pattern matches, in path order; unreadable and empty ones are skipped."""
    for path in labelled_review_files(folder_pattern):
        try:
            review = read_review(path)
        except UnreadableReviewError:
            continue
        if not is_empty(review):
            yield review

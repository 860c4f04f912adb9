"""Finding the aclImdb dataset: a given folder, or the official archive, downloaded once and cached.

The archive is verified against its published size and SHA-256 before it is
unpacked, and unpacked into a temporary folder that is renamed into place, so an
interrupted download or extraction never leaves a half-dataset behind.
"""

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from typing import Callable, List, Optional

from components.example_gen import SPAN_FOLDER_PREFIX, list_spans
from pipeline.definition.data_shape import DataShape

ACLIMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ACLIMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
ACLIMDB_SIZE = 84_125_825
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
DATASET_FOLDER = "aclImdb"

DATA_DIR_ENV = "ACLIMDB_DIR"
CACHE_DIR_ENV = "IMDB_EMBEDDINGS_CACHE"


class DataError(Exception):
    """The dataset cannot be found, fetched or used; the message says how to fix it."""


def default_cache_dir() -> str:
    """``$IMDB_EMBEDDINGS_CACHE``, else ``$XDG_CACHE_HOME/imdb-embeddings``, else ``~/.cache/...``."""
    if os.environ.get(CACHE_DIR_ENV):
        return os.environ[CACHE_DIR_ENV]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "imdb-embeddings")


def check_dataset_dir(data_dir: str, can_download: bool = False) -> str:
    """Checks that a folder has the aclImdb layout, or holds spans of it, and returns its absolute path.

    Accepts the dataset root (holding ``train/``), its parent (holding ``aclImdb/``), or a
    root of spans (``span-N/``, each holding ``train/``). ``can_download``: the command downloads
    the dataset when no folder is given (`run`), which the error then offers.

    Raises:
      DataError: If the folder or the ``train/pos`` and ``train/neg`` folders are missing.
    """
    path = os.path.abspath(os.path.expanduser(data_dir))
    if not os.path.isdir(path):
        raise DataError(
            f"Data folder {path} does not exist. Fix: pass the aclImdb folder (the one holding train/"
            f"{', or span-N/ folders' if not can_download else ''}) with --data-dir"
            f"{', or omit --data-dir to download the dataset' if can_download else ''}."
        )
    if not os.path.isdir(os.path.join(path, "train")) and os.path.isdir(os.path.join(path, DATASET_FOLDER, "train")):
        path = os.path.join(path, DATASET_FOLDER)
    if not os.path.isdir(os.path.join(path, "train")):
        spans = list_spans(path)
        if spans:
            for span in spans:
                _check_split_folders(os.path.join(path, f"{SPAN_FOLDER_PREFIX}{span}"))
            return path
    _check_split_folders(path)
    return path


def _check_split_folders(path: str) -> None:
    for label in ("pos", "neg"):
        folder = os.path.join(path, "train", label)
        if not os.path.isdir(folder):
            raise DataError(
                f"{path} is not an aclImdb folder: {folder} is missing. Fix: point --data-dir at the folder "
                f"that holds train/pos/ and train/neg/ (files ID_RATING.txt)."
            )
    splits = ["train"] + (["test"] if os.path.isdir(os.path.join(path, "test")) else [])
    for split in splits:
        for label in ("pos", "neg"):
            folder = os.path.join(path, split, label)
            if os.path.isdir(folder) and not _has_review(folder):
                raise DataError(
                    f"{folder} holds no review (*.txt): a model cannot learn, or be tested on, one label alone. "
                    f"Fix: restore its files, or point --data-dir at a complete aclImdb folder."
                )


def _has_review(folder: str) -> bool:
    with os.scandir(folder) as entries:
        return any(entry.name.endswith(".txt") for entry in entries)


def excluded_spans(data_root: str) -> list:
    """The spans of a local data root that an ``EXCLUDE`` file keeps out, ascending."""
    return list_spans(data_root, excluded=True)


def has_unsup_split(data_root: str) -> bool:
    """Whether the dataset root (over spans: any span) has unlabelled reviews in ``train/unsup/``."""
    import tensorflow as tf

    from components.example_gen import aclimdb

    spans = list_spans(data_root)
    roots = [f"{data_root.rstrip('/')}/{SPAN_FOLDER_PREFIX}{span}" for span in spans] or [data_root.rstrip("/")]
    return any(tf.io.gfile.glob(f"{root}/train/{aclimdb.UNLABELLED_FOLDER}/*.txt") for root in roots)


def describe_data_root(data_root: str, spans: Optional[bool] = None, test_split: Optional[bool] = None,
                       unsup_split: Optional[bool] = None) -> DataShape:
    """The data root's shape: each part given, or (None) looked up under ``data_root`` (a path or URI).

    Every runner and ``compile`` ask here, so that they agree on what a data root holds.

    Raises:
      DataRootUnreadable: If a part has to be looked up and the root cannot be read; it names those parts.
    """
    given = {"spans": spans, "test_split": test_split, "unsup_split": unsup_split}
    looks = {"spans": lambda: bool(list_spans(data_root)), "test_split": lambda: has_test_split(data_root),
             "unsup_split": lambda: has_unsup_split(data_root)}
    unknown = [name for name, value in given.items() if value is None]
    try:
        return DataShape(**{name: looks[name]() if value is None else value for name, value in given.items()})
    except Exception as err:  # pylint: disable=broad-except
        raise DataRootUnreadable(f"could not look under {data_root} ({err})", unknown) from err


class DataRootUnreadable(DataError):
    """A data root could not be read to learn its shape; ``unknown`` names the parts not given."""

    def __init__(self, message: str, unknown: List[str]):
        super().__init__(message)
        self.unknown = unknown


def has_test_split(data_root: str) -> bool:
    """Whether the dataset root (a path, or a URI such as ``gs://``) has a labelled ``test/`` folder.

    Over spans, whether the newest span has one.
    """
    # Here, so that the rest of this module answers without loading TensorFlow.
    import tensorflow as tf

    spans = list_spans(data_root)
    root = data_root.rstrip("/") + (f"/{SPAN_FOLDER_PREFIX}{spans[-1]}" if spans else "")
    return all(tf.io.gfile.isdir(f"{root}/test/{label}") for label in ("pos", "neg"))


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, destination: str, expected_size: Optional[int], progress: Callable[[str], None]) -> None:
    """Streams ``url`` into ``destination + '.part'``, renamed into place when complete."""
    partial = destination + ".part"
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or expected_size or 0)
            done, reported = 0, -1
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                done += len(block)
                percent = 100 * done // total if total else -1
                if percent >= reported + 10:
                    progress(f"  downloaded {done / 1e6:.1f} MB" + (f" ({percent}%)" if total else ""))
                    reported = percent
    except (urllib.error.URLError, OSError, ValueError) as err:
        if os.path.exists(partial):
            os.remove(partial)
        raise DataError(
            f"Could not download {url}: {getattr(err, 'reason', err)}. Fix: if this machine is offline, "
            f"download {ARCHIVE_NAME} elsewhere and put it at {destination}, or unpack it and run with "
            f"--data-dir /path/to/aclImdb (or set {DATA_DIR_ENV})."
        ) from err
    os.replace(partial, destination)


def _verify(archive: str, sha256: str, size: Optional[int], url: str) -> None:
    actual_size = os.path.getsize(archive)
    problem = None
    if size is not None and actual_size != size:
        problem = f"it is {actual_size:,} bytes, not {size:,}"
    elif _sha256(archive) != sha256:
        problem = f"its SHA-256 is not {sha256}"
    if problem:
        os.remove(archive)
        raise DataError(
            f"The downloaded archive {archive} is corrupt or truncated ({problem}); it has been removed. "
            f"Fix: run the same command again to fetch it anew from {url}."
        )


def _extract(archive: str, cache_dir: str) -> str:
    """Unpacks into a temporary folder, then renames ``aclImdb`` into the cache."""
    target = os.path.join(cache_dir, DATASET_FOLDER)
    staging = tempfile.mkdtemp(prefix=".extract-", dir=cache_dir)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staging, filter="data")
        unpacked = os.path.join(staging, DATASET_FOLDER)
        if not os.path.isdir(os.path.join(unpacked, "train")):
            raise DataError(f"{archive} does not contain {DATASET_FOLDER}/train/. Fix: delete it and run again.")
        os.replace(unpacked, target)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataError(f"Could not unpack {archive}: {err}. Fix: delete it and run again to download it anew.") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def fetch_dataset(
    cache_dir: str,
    url: str = ACLIMDB_URL,
    sha256: str = ACLIMDB_SHA256,
    size: Optional[int] = ACLIMDB_SIZE,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> str:
    """Returns the cached dataset root, downloading, verifying and unpacking it on first use.

    Args:
      cache_dir: Folder for the archive and the unpacked ``aclImdb/``.
      url: Where the archive is downloaded from.
      sha256: Its expected SHA-256 (hex).
      size: Its expected size in bytes, or None to check only the hash.
      progress: Receives progress lines.

    Raises:
      DataError: When the download fails, or the archive is corrupt (it is then removed).
    """
    target = os.path.join(cache_dir, DATASET_FOLDER)
    if os.path.isdir(os.path.join(target, "train")):
        return target
    os.makedirs(cache_dir, exist_ok=True)
    archive = os.path.join(cache_dir, ARCHIVE_NAME)
    if not os.path.exists(archive):
        progress(f"Downloading {url} to {archive}")
        _download(url, archive, size, progress)
    progress(f"Verifying {archive}")
    _verify(archive, sha256, size, url)
    progress(f"Unpacking {archive}")
    return _extract(archive, cache_dir)


def resolve_data_dir(data_dir: Optional[str], cache_dir: Optional[str] = None, **fetch_args) -> str:
    """The dataset to use: ``data_dir``, else ``$ACLIMDB_DIR``, else the downloaded copy."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if chosen:
        return check_dataset_dir(chosen, can_download=True)
    return check_dataset_dir(fetch_dataset(cache_dir or default_cache_dir(), **fetch_args))

"""What a data root holds, from listings: the newest span and one fingerprint of every file a run reads.

TFX's ExampleGen driver fingerprints the newest span only, and asks for each file's size and
modification time with a request of its own (``io_utils.generate_fingerprint``): on a bucket of
25,000 reviews that is 25,000 sequential requests, twice when two splits share a pattern, and a
changed older span of the window goes unseen. Here each folder a run reads is listed once
(a bucket lists up to 1,000 objects per request, with their sizes and generations), and the
fingerprint covers the whole window.
"""

import dataclasses
import fnmatch
import hashlib
import os
from typing import Dict, Iterable, List, Sequence, Tuple

GCS_SCHEME = "gs://"


@dataclasses.dataclass(frozen=True, order=True)
class ListedFile:
    """A file as a listing names it: path relative to the listed folder, size and a version stamp
    (a bucket object's generation, a local file's modification time in nanoseconds)."""

    name: str
    size: int
    stamp: int


def _split_gcs(uri: str) -> Tuple[str, str]:
    bucket, _, prefix = uri[len(GCS_SCHEME):].partition("/")
    return bucket, prefix


def list_folder(folder: str) -> List[ListedFile]:
    """Every file under ``folder`` (recursively), with one listing: a bucket's paged object listing,
    a local directory walk (linked folders followed, each once), or, for another scheme,
    ``tf.io.gfile``'s walk and one stat per file."""
    folder = folder.rstrip("/")
    if folder.startswith(GCS_SCHEME):
        from google.cloud import storage  # pylint: disable=import-outside-toplevel

        bucket, prefix = _split_gcs(folder + "/")
        return sorted(ListedFile(blob.name[len(prefix):], int(blob.size or 0), int(blob.generation or 0))
                      for blob in storage.Client().list_blobs(bucket, prefix=prefix)
                      if not blob.name.endswith("/"))  # a folder's zero-byte marker object
    files = []
    if "://" not in folder:
        # Linked folders are followed, as the reader's glob follows them; each real folder is read once.
        seen = set()
        for parent, folders, names in os.walk(folder, followlinks=True):
            stat = os.stat(parent)
            if (stat.st_dev, stat.st_ino) in seen:
                folders[:] = []
                continue
            seen.add((stat.st_dev, stat.st_ino))
            for name in names:
                path = os.path.join(parent, name)
                try:
                    stat = os.stat(path)
                except OSError:  # a broken link: the reader reports it; here it counts by name alone
                    files.append(ListedFile(os.path.relpath(path, folder), -1, 0))
                    continue
                files.append(ListedFile(os.path.relpath(path, folder), stat.st_size, stat.st_mtime_ns))
        return sorted(files)
    import tensorflow as tf  # pylint: disable=import-outside-toplevel  # only here: a local listing needs none

    for parent, _, names in tf.io.gfile.walk(folder):
        for name in names:
            path = f"{parent.rstrip('/')}/{name}"
            stat = tf.io.gfile.stat(path)
            files.append(ListedFile(path[len(folder) + 1:], stat.length, stat.mtime_nsec))
    return sorted(files)


def _literal_prefix(pattern: str) -> str:
    """The folders of a glob pattern before its first wildcard: ``train`` for ``train/*/*.txt``."""
    parts = pattern.split("/")
    literal = []
    for part in parts[:-1]:
        if any(c in part for c in "*?["):
            break
        literal.append(part)
    return "/".join(literal)


def _matches(name: str, pattern: str) -> bool:
    """``fnmatch`` one path segment at a time, as a file system glob does (``*`` never crosses ``/``)."""
    names, patterns = name.split("/"), pattern.split("/")
    return len(names) == len(patterns) and all(fnmatch.fnmatchcase(n, p) for n, p in zip(names, patterns))


class DataRootListing:
    """Lists the folders a run reads under a data root, each folder once however many patterns share it."""

    def __init__(self, data_root: str):
        self.data_root = data_root.rstrip("/")
        self._folders: Dict[str, List[ListedFile]] = {}
        self.listings = 0

    def files(self, pattern: str) -> List[str]:
        """The paths, relative to the data root, of the files that ``pattern`` matches."""
        return [name for name, _, _ in self._matched(pattern)]

    def _matched(self, pattern: str) -> List[Tuple[str, int, int]]:
        folder = _literal_prefix(pattern)
        if folder not in self._folders:
            self._folders[folder] = list_folder(f"{self.data_root}/{folder}" if folder else self.data_root)
            self.listings += 1
        rest = pattern[len(folder) + 1:] if folder else pattern
        return [(f"{folder}/{f.name}" if folder else f.name, f.size, f.stamp)
                for f in self._folders[folder] if _matches(f.name, rest)]

    def fingerprint(self, patterns: Iterable[str]) -> str:
        """One line per distinct pattern, ``PATTERN:files=N,bytes=B,sha256=H``, H over every file's
        name, size and stamp: it changes when any file is added, removed, replaced or rewritten."""
        lines = []
        for pattern in sorted(set(patterns)):
            matched = self._matched(pattern)
            digest = hashlib.sha256()
            for name, size, stamp in matched:
                digest.update(f"{name}\0{size}\0{stamp}\n".encode("utf-8"))
            lines.append(f"{pattern}:files={len(matched)},bytes={sum(max(size, 0) for _, size, _ in matched)},"
                         f"sha256={digest.hexdigest()[:32]}")
        return "\n".join(lines)


def window_patterns(patterns: Sequence[str], span_placeholder: str, spans: Sequence[int]) -> List[str]:
    """The patterns with ``span_placeholder`` filled in for each span of the window."""
    return [pattern.replace(span_placeholder, str(span)) for span in spans for pattern in patterns]

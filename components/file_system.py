"""Listing a folder that may be a URI: a local path with ``os``, a URI (gs://, s3://) with TensorFlow's file
systems, loaded only then, so that the command line lists a local folder without loading TensorFlow."""

import os
from typing import Callable, List, NamedTuple


class FileSystem(NamedTuple):
    listdir: Callable[[str], List[str]]  # names; an object store may end a folder's with "/"
    isdir: Callable[[str], bool]
    exists: Callable[[str], bool]


def for_path(path: str) -> FileSystem:
    """The functions that list ``path``."""
    if "://" in path:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        return FileSystem(tf.io.gfile.listdir, tf.io.gfile.isdir, tf.io.gfile.exists)
    return FileSystem(os.listdir, os.path.isdir, os.path.exists)


def child(folder: str, name: str) -> str:
    """``folder/name`` for a path or a URI, whatever slashes the listing left on either."""
    return f"{folder.rstrip('/')}/{name.strip('/')}"

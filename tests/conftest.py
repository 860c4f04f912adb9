"""Shared fixtures. TF_USE_LEGACY_KERAS must be set before TensorFlow is first imported."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from tests import corpus  # noqa: E402


@pytest.fixture
def small_corpus(tmp_path):
    """A generated aclImdb folder: 40 train and 10 test reviews per label, plus ignorable extras."""
    root = tmp_path / "aclImdb"
    counts = corpus.write_corpus(str(root), train_per_label=40, test_per_label=10)
    return str(root), counts

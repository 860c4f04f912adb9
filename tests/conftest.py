"""Shared fixtures. TF_USE_LEGACY_KERAS must be set before TensorFlow is first imported."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from tests import corpus  # noqa: E402


# The modules whose end-to-end runs take longest, slowest first: `make test` hands whole modules to
# its worker processes in collection order (--no-loadscope-reorder), so these start at once and
# the quick modules fill the time beside them. The rest keep pytest's order.
SLOWEST_MODULES = (
    "test_bench.py", "test_kubeflow_run.py", "test_retraining.py", "test_faults.py", "test_portable_beam.py",
    "test_vertex_run.py", "test_word2vec_pipeline.py", "test_pipeline_e2e.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return SLOWEST_MODULES.index(name) if name in SLOWEST_MODULES else len(SLOWEST_MODULES)

    items.sort(key=rank)  # stable: within a module, and among the rest, the order stays pytest's


@pytest.fixture
def small_corpus(tmp_path):
    """A generated aclImdb folder: 40 train and 10 test reviews per label, plus ignorable extras."""
    root = tmp_path / "aclImdb"
    counts = corpus.write_corpus(str(root), train_per_label=40, test_per_label=10)
    return str(root), counts

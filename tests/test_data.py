"""Locating and downloading the dataset; the download is served from a local HTTP server."""

import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading

import pytest

from pipeline import data
from tests import corpus


@pytest.fixture
def archive_server(tmp_path):
    """Serves a generated aclImdb_v1.tar.gz from 127.0.0.1; yields (url, sha256, size, hits)."""
    source = tmp_path / "source"
    corpus.write_corpus(str(source / "aclImdb"), train_per_label=3, test_per_label=2)
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as tar:
        tar.add(str(source / "aclImdb"), arcname="aclImdb")
    served = tmp_path / "served"
    served.mkdir()
    (served / data.ARCHIVE_NAME).write_bytes(payload.getvalue())
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        body = payload.getvalue()
        yield (f"http://127.0.0.1:{server.server_port}/{data.ARCHIVE_NAME}",
               hashlib.sha256(body).hexdigest(), len(body), hits)
    finally:
        server.shutdown()
        server.server_close()


def _quiet(_line):
    pass


def test_download_verify_unpack_and_reuse(archive_server, tmp_path):
    url, sha256, size, hits = archive_server
    cache = str(tmp_path / "cache")
    root = data.fetch_dataset(cache, url=url, sha256=sha256, size=size, progress=_quiet)
    assert root == os.path.join(cache, "aclImdb")
    assert len(os.listdir(os.path.join(root, "train", "pos"))) == 3
    assert data.has_test_split(root)
    assert not [name for name in os.listdir(cache) if name.startswith(".extract-") or name.endswith(".part")]
    # The second call uses the cache and does not download again.
    assert data.fetch_dataset(cache, url=url, sha256=sha256, size=size, progress=_quiet) == root
    assert len(hits) == 1


def test_checksum_mismatch_removes_the_archive(archive_server, tmp_path):
    url, _, size, _ = archive_server
    cache = tmp_path / "cache"
    with pytest.raises(data.DataError, match="corrupt or truncated.*has been removed.*run the same command again"):
        data.fetch_dataset(str(cache), url=url, sha256="0" * 64, size=size, progress=_quiet)
    assert not (cache / data.ARCHIVE_NAME).exists()
    assert not (cache / "aclImdb").exists()


def test_truncated_archive_is_detected_by_size(archive_server, tmp_path):
    url, sha256, size, _ = archive_server
    cache = tmp_path / "cache"
    cache.mkdir()
    full = (tmp_path / "served" / data.ARCHIVE_NAME).read_bytes()
    (cache / data.ARCHIVE_NAME).write_bytes(full[: size // 2])
    with pytest.raises(data.DataError, match=f"is {size // 2:,} bytes, not {size:,}"):
        data.fetch_dataset(str(cache), url=url, sha256=sha256, size=size, progress=_quiet)
    assert not (cache / data.ARCHIVE_NAME).exists()


def test_offline_error_says_how_to_use_a_local_copy(tmp_path):
    # Nothing listens on port 9 of the loopback address.
    with pytest.raises(data.DataError, match="Could not download .*--data-dir.*ACLIMDB_DIR"):
        data.fetch_dataset(str(tmp_path / "cache"), url="http://127.0.0.1:9/aclImdb_v1.tar.gz", progress=_quiet)
    assert not list((tmp_path / "cache").iterdir())


def test_check_dataset_dir(small_corpus, tmp_path):
    root, _ = small_corpus
    assert data.check_dataset_dir(root) == root
    # The parent of aclImdb/ is accepted too.
    assert data.check_dataset_dir(os.path.dirname(root)) == root
    with pytest.raises(data.DataError, match="does not exist"):
        data.check_dataset_dir(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError, match="not an aclImdb folder.*train/pos"):
        data.check_dataset_dir(str(tmp_path / "empty"))


def test_resolve_prefers_argument_then_environment(small_corpus, monkeypatch, tmp_path):
    root, _ = small_corpus
    monkeypatch.setenv(data.DATA_DIR_ENV, root)
    assert data.resolve_data_dir(None) == root
    with pytest.raises(data.DataError, match="does not exist"):
        data.resolve_data_dir(str(tmp_path / "elsewhere"))


def test_spans_of_a_local_folder_are_listed_as_tensorflows_file_systems_list_them(tmp_path):
    for name in ("span-2", "span-10", "span-1", "span-x", "spans-3", "notes"):
        (tmp_path / name).mkdir()
    (tmp_path / "span-7").write_text("a file, not a span")
    assert data.list_spans(str(tmp_path)) == [1, 2, 10]
    # The same answer through tf.io.gfile, which a URI (gs://, s3://) takes.
    assert data.list_spans(f"file://{tmp_path}") == [1, 2, 10]
    assert data.list_spans(str(tmp_path / "missing")) == []
    assert data.list_spans(f"file://{tmp_path}/missing") == []


def test_a_span_with_the_exclude_marker_is_left_out_by_both_listings(tmp_path):
    from components.example_gen import EXCLUDE_MARKER

    for name in ("span-1", "span-2", "span-3"):
        (tmp_path / name).mkdir()
    (tmp_path / "span-2" / EXCLUDE_MARKER).write_text("wrong labels")
    assert data.list_spans(str(tmp_path)) == data.list_spans(f"file://{tmp_path}") == [1, 3]
    assert data.excluded_spans(str(tmp_path)) == [2]
    (tmp_path / "span-2" / EXCLUDE_MARKER).unlink()
    assert data.list_spans(str(tmp_path)) == [1, 2, 3] and data.excluded_spans(str(tmp_path)) == []


def test_describe_data_root_looks_only_for_what_it_is_not_told(tmp_path):
    from pipeline.definition.data_shape import DataShape

    plain = tmp_path / "plain"
    corpus.write_corpus(str(plain), train_per_label=2, test_per_label=1, extras=False)
    assert data.describe_data_root(str(plain)) == DataShape(spans=False, test_split=True, unsup_split=False)
    (plain / "train" / "unsup").mkdir()
    (plain / "train" / "unsup" / "0_0.txt").write_text("an unlabelled review")
    assert data.describe_data_root(str(plain)).unsup_split
    # Over spans: the newest span's test/ decides; any span's unsup/ counts.
    spans = tmp_path / "spans"
    corpus.write_corpus(str(spans / "span-1"), train_per_label=2, test_per_label=1, extras=False)
    corpus.write_corpus(str(spans / "span-2"), train_per_label=2, test_per_label=None, extras=False)
    assert data.describe_data_root(str(spans)) == DataShape(spans=True, test_split=False, unsup_split=False)
    # Told everything, it reads nothing: a root it cannot read is no error then.
    told = data.describe_data_root("gs://no-such-bucket/aclImdb", spans=True, test_split=False, unsup_split=True)
    assert told == DataShape(spans=True, test_split=False, unsup_split=True)


def test_describe_data_root_names_what_it_could_not_learn(monkeypatch):
    def forbidden(_):
        raise PermissionError("403 Forbidden")

    monkeypatch.setattr(data, "has_test_split", forbidden)
    with pytest.raises(data.DataRootUnreadable, match=r"could not look under gs://b/aclImdb \(403 Forbidden\)") as err:
        data.describe_data_root("gs://b/aclImdb", spans=False, unsup_split=False)
    assert err.value.unknown == ["test_split"] and isinstance(err.value, data.DataError)

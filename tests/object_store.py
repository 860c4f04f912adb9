"""An S3 API server on loopback (moto's), and KFP's launcher's bucket work against it (tests only).

A default install of Kubeflow Pipelines keeps artifacts in MinIO, which speaks S3; its launcher reaches
it with gocloud's blob API (``backend/src/v2/objectstore/object_store.go``). The emulation
(``tests/kfp_launcher.py``) moves artifacts between the store and each task's pod folder with
``Bucket.download`` and ``Bucket.upload``, which follow ``DownloadBlob`` and ``UploadBlob``:

- ``UploadBlob``: a file is one object; a folder is walked, every file an object under the
  artifact's key; an empty folder leaves nothing in the store (a store has no folders); a missing
  path raises ``FileNotFoundError``, which the launcher lets pass ("We allow components to not
  produce output files").
- ``DownloadBlob``: every object listed under the key (``isBlobKeyUnderPrefix``: the key itself or
  ``key/...``) is written to the local path of its relative name, folders made as needed; a
  name with a ``..`` part is refused (``sanitizeDownloadPath``).
- ``KeyFromURI``: an object's key is its URI after ``SCHEME://BUCKET/``.
"""

import logging
import os
from typing import List, Tuple

import boto3
from botocore.config import Config

# What the S3 client signs with; moto accepts any.
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "minio", "aws_secret_access_key": "minio123"}


def split_uri(uri: str) -> Tuple[str, str]:
    """(bucket, key) of ``SCHEME://BUCKET/KEY``."""
    _, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    return bucket, key.rstrip("/")


class S3Server:
    """moto's S3 server in a thread of this process, on a free port of 127.0.0.1, empty when it starts (one at a
    time per process)."""

    def __init__(self):
        from moto.server import ThreadedMotoServer  # pylint: disable=import-outside-toplevel

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # moto keeps its buckets per process, not per server: an earlier server's would still be there.
        import requests  # pylint: disable=import-outside-toplevel

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=30).raise_for_status()

    def client(self):
        # Path-style addressing, as KFP's launcher uses for MinIO (ForcePathStyle).
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            config=Config(s3={"addressing_style": "path"}), **CREDENTIALS)

    def stop(self) -> None:
        self._server.stop()


class Bucket:
    """One bucket of the store, as the launcher opens it (``OpenBucket``)."""

    def __init__(self, client, name: str):
        self.client, self.name = client, name

    def create(self) -> "Bucket":
        self.client.create_bucket(Bucket=self.name)
        return self

    def keys(self, prefix: str = "") -> List[str]:
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def upload(self, local_path: str, key: str) -> int:
        """``UploadBlob``; returns the number of objects written."""
        if not os.path.exists(local_path):
            raise FileNotFoundError(local_path)
        if not os.path.isdir(local_path):
            self.client.upload_file(local_path, self.name, key)
            return 1
        written = 0
        for entry in sorted(os.listdir(local_path)):  # os.ReadDir: sorted by name
            written += self.upload(os.path.join(local_path, entry), f"{key}/{entry}")
        return written

    def download(self, local_path: str, key: str) -> int:
        """``DownloadBlob``; returns the number of objects read."""
        key = key.rstrip("/")
        read = 0
        for name in self.keys(key):
            if name != key and not name.startswith(key + "/"):
                continue  # "skipping blob key not under expected prefix"
            relative = os.path.relpath(name, key)
            if ".." in name.split("/"):
                raise ValueError(f"path traversal detected: blob key {name!r} contains '..' component")
            target = os.path.normpath(os.path.join(local_path, relative))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            self.client.download_file(self.name, name, target)
            read += 1
        return read

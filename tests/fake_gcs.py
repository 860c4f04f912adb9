"""An in-memory bucket behind ``google.cloud.storage.Client``'s ``list_blobs`` (tests only).

It answers as Cloud Storage's object listing does: every object whose name starts with the prefix,
in name order, each with its size and generation, zero-byte ``folder/`` markers included (which
TensorFlow's GCS file system writes for ``makedirs``: ``GcsFileSystem::CreateDir``). It records
every listing request, so that a test can count them.
"""

import dataclasses
from typing import Dict, List, Tuple


@dataclasses.dataclass
class Blob:
    name: str
    size: int
    generation: int
    bucket: "Bucket"

    def delete(self):
        del self.bucket.objects[self.name]


@dataclasses.dataclass
class Bucket:
    objects: Dict[str, Tuple[int, int]] = dataclasses.field(default_factory=dict)  # name -> (size, generation)
    generations: int = 0

    def put(self, name: str, size: int) -> None:
        """Writes an object: a new generation, as every write to Cloud Storage."""
        self.generations += 1
        self.objects[name] = (size, self.generations)


class Client:
    """Stands in for ``google.cloud.storage.Client``; ``buckets`` and ``requests`` are shared by every instance."""

    buckets: Dict[str, Bucket] = {}
    requests: List[Tuple[str, str]] = []

    def list_blobs(self, bucket: str, prefix: str = ""):
        self.requests.append((bucket, prefix))
        objects = self.buckets[bucket].objects
        return [Blob(name, size, generation, self.buckets[bucket])
                for name, (size, generation) in sorted(objects.items()) if name.startswith(prefix)]


def install(monkeypatch, **buckets: Bucket) -> None:
    """Makes ``google.cloud.storage.Client`` this fake, holding ``buckets``."""
    from google.cloud import storage  # pylint: disable=import-outside-toplevel

    monkeypatch.setattr(Client, "buckets", dict(buckets))
    monkeypatch.setattr(Client, "requests", [])
    monkeypatch.setattr(storage, "Client", Client)

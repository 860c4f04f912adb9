"""What an output folder keeps of earlier runs: every artifact the newest runs used or made; the rest is deleted,
and ML Metadata told.

TFX compiles a garbage-collection policy into its IR, but its open-source runners never apply it.
After each local run, ``prune_runs`` deletes the artifacts under the pipeline root that no
execution of the newest ``keep_runs`` runs read or wrote. A cached execution's outputs are an
earlier run's artifacts, so what the newest run reused (its cache) stays as long as that run is
kept; the served model and the warm start live in the serving folder, which the Pusher prunes
(``components/served_model/served.py``).

The order makes a killed prune harmless:

1. the artifacts are marked ``MARKED_FOR_DELETION`` in ML Metadata, in one call: TFX's cache
   reuses only ``LIVE`` artifacts (``tfx/orchestration/portable/cache_utils.py``), so no later
   run takes one up;
2. each artifact's folder is renamed into ``PIPELINE_ROOT/.deleting/`` (one atomic step on one
   file system), then removed;
3. they are marked ``DELETED``.

A prune killed after 1 leaves artifacts marked for deletion, and folders under ``.deleting/``:
the next prune takes both up. No artifact ML Metadata calls ``LIVE`` is ever missing its folder.
"""

import dataclasses
import os
import shutil
from typing import List, Set

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.records import metadata

# Where folders wait for their removal, under the pipeline root (not a node's name: TFX names them by node id).
DELETING_FOLDER = ".deleting"
# The states of artifacts a prune may delete: published, left by a killed run, or marked by a killed prune.
_DELETABLE = (metadata_store_pb2.Artifact.LIVE, metadata_store_pb2.Artifact.ABANDONED,
              metadata_store_pb2.Artifact.MARKED_FOR_DELETION)


@dataclasses.dataclass(frozen=True)
class Pruned:
    """What a prune deleted."""

    artifacts: int
    bytes_freed: int

    def describe(self) -> str:
        return f"deleted {self.artifacts} artifacts of older runs ({self.bytes_freed / 1e6:.1f} MB)"


def _folder_bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for parent, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                pass
    return total


def _remove(path: str, hidden: str) -> None:
    """Moves ``path`` out of view to ``hidden`` in one step, then deletes it."""
    os.rename(path, hidden)
    if os.path.isdir(hidden):
        shutil.rmtree(hidden)
    else:
        os.remove(hidden)


def kept_artifact_ids(store: metadata_store.MetadataStore, pipeline_name: str, keep_runs: int) -> Set[int]:
    """The artifacts that an execution of the newest ``keep_runs`` runs read or wrote."""
    runs = [run_id for run_id, _ in metadata.run_ids(store, pipeline_name)][-keep_runs:]
    kept: Set[int] = set()
    for run_id in runs:
        executions = metadata.run_executions(store, run_id)
        if executions:
            kept.update(event.artifact_id for event in store.get_events_by_execution_ids([e.id for e in executions]))
    return kept


def prune_runs(metadata_path: str, pipeline_root: str, pipeline_name: str, keep_runs: int) -> Pruned:
    """Deletes the artifacts under ``pipeline_root`` that none of the newest ``keep_runs`` runs used or made
    (0: none but what a killed prune marked). Call only while holding the output folder's lock."""
    trash = os.path.join(pipeline_root, DELETING_FOLDER)
    freed = _folder_bytes(trash) if os.path.isdir(trash) else 0
    shutil.rmtree(trash, ignore_errors=True)  # a killed prune's leftovers
    if not os.path.exists(metadata_path):
        return Pruned(0, freed)
    store = metadata.open_store(metadata_path, writable=True)
    root = os.path.abspath(pipeline_root) + os.sep
    if keep_runs:
        kept = kept_artifact_ids(store, pipeline_name, keep_runs)
        deletable = _DELETABLE
    else:  # everything kept, but what a killed prune marked is finished
        kept, deletable = set(), (metadata_store_pb2.Artifact.MARKED_FOR_DELETION,)
    doomed: List[metadata_store_pb2.Artifact] = [
        artifact for artifact in metadata.pipeline_artifacts(store, pipeline_name)
        if artifact.id not in kept and artifact.state in deletable and artifact.uri.startswith(root)]
    if not doomed:
        return Pruned(0, freed)
    for artifact in doomed:
        artifact.state = metadata_store_pb2.Artifact.MARKED_FOR_DELETION
    store.put_artifacts(doomed)
    os.makedirs(trash, exist_ok=True)
    for artifact in doomed:
        if os.path.lexists(artifact.uri):
            freed += _folder_bytes(artifact.uri)
            _remove(artifact.uri, os.path.join(trash, str(artifact.id)))
    for artifact in doomed:
        artifact.state = metadata_store_pb2.Artifact.DELETED
    store.put_artifacts(doomed)
    shutil.rmtree(trash, ignore_errors=True)
    return Pruned(len(doomed), freed)

"""Reading a finished local run back from ML Metadata: timings and output artifacts."""

import dataclasses
import json
from typing import Any, Dict, List, Optional

import tensorflow as tf

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

_PIPELINE_RUN_CONTEXT = "pipeline_run"
_NODE_CONTEXT = "node"

EXECUTION_STATES = {
    metadata_store_pb2.Execution.COMPLETE: "ran",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.NEW: "new",
    metadata_store_pb2.Execution.CANCELED: "canceled",
}


@dataclasses.dataclass(frozen=True)
class ComponentRun:
    """One component's execution in a pipeline run."""

    node_id: str
    state: str
    seconds: float
    outputs: Dict[str, List[str]]  # output key -> artifact URIs
    properties: Dict[str, str] = dataclasses.field(default_factory=dict)  # execution properties, as text


def open_store(sqlite_path: str, writable: bool = False) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = sqlite_path
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
        if writable
        else metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    )
    return metadata_store.MetadataStore(config)


def cancel_orphaned_executions(sqlite_path: str, pipeline_name: str) -> List[str]:
    """Marks executions left RUNNING by a killed run as CANCELED, their pending outputs ABANDONED.

    Call only while holding the output folder's lock: then no run is active, and
    a RUNNING execution can only belong to a process that died.

    Returns:
      The node ids whose executions were canceled.
    """
    store = open_store(sqlite_path, writable=True)
    canceled = []
    for node in store.get_contexts_by_type(_NODE_CONTEXT):
        if not node.name.startswith(pipeline_name + "."):
            continue
        for execution in store.get_executions_by_context(node.id):
            if execution.last_known_state not in (metadata_store_pb2.Execution.RUNNING,
                                                  metadata_store_pb2.Execution.NEW):
                continue
            execution.last_known_state = metadata_store_pb2.Execution.CANCELED
            outputs = [
                event.artifact_id
                for event in store.get_events_by_execution_ids([execution.id])
                if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.PENDING_OUTPUT)
            ]
            abandoned = []
            for artifact in store.get_artifacts_by_id(outputs):
                if artifact.state == metadata_store_pb2.Artifact.PENDING:
                    artifact.state = metadata_store_pb2.Artifact.ABANDONED
                    abandoned.append(artifact)
            if abandoned:
                store.put_artifacts(abandoned)
            store.put_executions([execution])
            canceled.append(node.name[len(pipeline_name) + 1 :])
    return canceled

def latest_run_id(store: metadata_store.MetadataStore, pipeline_name: str) -> Optional[str]:
    """The newest pipeline run of ``pipeline_name``, or None."""
    runs = run_ids(store, pipeline_name)
    return runs[-1][0] if runs else None


def component_runs(store: metadata_store.MetadataStore, pipeline_name: str, run_id: str) -> List[ComponentRun]:
    """The executions of one pipeline run, in the order they started."""
    run_context = store.get_context_by_type_and_name(_PIPELINE_RUN_CONTEXT, run_id)
    if run_context is None:
        return []
    run_executions = {e.id: e for e in store.get_executions_by_context(run_context.id)}
    node_of = {}
    for node in store.get_contexts_by_type(_NODE_CONTEXT):
        if not node.name.startswith(pipeline_name + "."):
            continue
        for execution in store.get_executions_by_context(node.id):
            if execution.id in run_executions:
                node_of[execution.id] = node.name[len(pipeline_name) + 1 :]
    result = []
    for execution in sorted(run_executions.values(), key=lambda e: (e.create_time_since_epoch, e.id)):
        outputs: Dict[str, List[str]] = {}
        events = [
            event
            for event in store.get_events_by_execution_ids([execution.id])
            if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
        ]
        artifacts = {a.id: a for a in store.get_artifacts_by_id([event.artifact_id for event in events])}
        for event in events:
            key = event.path.steps[0].key if event.path.steps else ""
            outputs.setdefault(key, []).append(artifacts[event.artifact_id].uri)
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0
        properties = {
            key: str(value.string_value or value.int_value or value.double_value)
            for key, value in execution.custom_properties.items()
        }
        result.append(
            ComponentRun(
                node_id=node_of.get(execution.id, str(execution.type)),
                state=EXECUTION_STATES.get(execution.last_known_state, "unknown"),
                seconds=seconds,
                outputs=outputs,
                properties=properties,
            )
        )
    return result


def run_ids(store: metadata_store.MetadataStore, pipeline_name: str) -> List[tuple]:
    """``(run_id, start time in ms)`` of every run of a pipeline, oldest first."""
    runs = [
        context
        for context in store.get_contexts_by_type(_PIPELINE_RUN_CONTEXT)
        if any(parent.name == pipeline_name for parent in store.get_parent_contexts_by_context(context.id))
    ]
    return [(c.name, c.create_time_since_epoch) for c in sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))]


def read_json(path: str) -> Optional[Dict[str, Any]]:
    """A JSON file an artifact holds (local or remote path), or None if it is absent."""
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)

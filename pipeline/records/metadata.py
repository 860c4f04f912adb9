"""Reading runs back from ML Metadata: the executions of a run by the pipeline's node ids, their outputs.

Runner-neutral: it reads any ML Metadata store a TFX runner wrote (SQLite locally;
on Kubeflow, the cluster's store through a connection config).
"""

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.definition import nodes

_PIPELINE_CONTEXT = "pipeline"
_PIPELINE_RUN_CONTEXT = "pipeline_run"
_NODE_CONTEXT = "node"

EXECUTION_STATES = {
    metadata_store_pb2.Execution.COMPLETE: nodes.RAN,
    metadata_store_pb2.Execution.CACHED: nodes.CACHED,
    metadata_store_pb2.Execution.FAILED: nodes.FAILED,
    metadata_store_pb2.Execution.RUNNING: nodes.RUNNING,
    metadata_store_pb2.Execution.NEW: nodes.NEW,
    metadata_store_pb2.Execution.CANCELED: nodes.CANCELED,
}


@dataclasses.dataclass(frozen=True)
class ComponentRun:
    """One component's execution in a pipeline run."""

    node_id: str
    state: str
    seconds: float
    outputs: Dict[str, List[metadata_store_pb2.Artifact]]  # output key -> artifacts
    properties: Dict[str, str] = dataclasses.field(default_factory=dict)  # execution properties, as text
    started: float = 0.0  # seconds since the epoch

    def output_uri(self, key: str) -> Optional[str]:
        """The URI of the first artifact of an output, or None."""
        artifacts = self.outputs.get(key)
        return artifacts[0].uri if artifacts else None


def open_store(sqlite_path: str, writable: bool = False) -> metadata_store.MetadataStore:
    """Opens a local SQLite ML Metadata store (read-only unless ``writable``)."""
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = sqlite_path
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
        if writable
        else metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    )
    return metadata_store.MetadataStore(config)


def _executions(store: metadata_store.MetadataStore, filter_query: str) -> List[metadata_store_pb2.Execution]:
    return store.get_executions(list_options=metadata_store.ListOptions(filter_query=filter_query))


def _node_id(store: metadata_store.MetadataStore, execution_id: int, pipeline_name: str) -> Optional[str]:
    """The node id of an execution, from its ``node`` context (named ``PIPELINE.NODE_ID``)."""
    for context in store.get_contexts_by_execution(execution_id):
        if context.type == _NODE_CONTEXT and context.name.startswith(pipeline_name + "."):
            return context.name[len(pipeline_name) + 1:]
    return None


def cancel_orphaned_executions(sqlite_path: str, pipeline_name: str) -> List[str]:
    """Marks executions left RUNNING by a killed run as CANCELED, their pending outputs ABANDONED.

    Call only while holding the output folder's lock: then no run is active, and
    a RUNNING execution can only belong to a process that died.

    Returns:
      The node ids whose executions were canceled.
    """
    store = open_store(sqlite_path, writable=True)
    orphans = _executions(
        store,
        f"contexts_a.type = {_literal(_PIPELINE_CONTEXT)} AND contexts_a.name = {_literal(pipeline_name)} "
        "AND (last_known_state = RUNNING OR last_known_state = NEW)",
    )
    canceled = []
    for execution in orphans:
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
        canceled.append(_node_id(store, execution.id, pipeline_name) or execution.type)
    return canceled


def latest_run_id(store: metadata_store.MetadataStore, pipeline_name: str) -> Optional[str]:
    """The newest pipeline run of ``pipeline_name``, or None."""
    runs = store.get_contexts(list_options=metadata_store.ListOptions(
        limit=1, order_by=metadata_store.OrderByField.CREATE_TIME, is_asc=False,
        filter_query=_runs_of(pipeline_name)))
    return runs[0].name if runs else None


def _runs_of(pipeline_name: str) -> str:
    return f"type = {_literal(_PIPELINE_RUN_CONTEXT)} AND parent_contexts_a.name = {_literal(pipeline_name)}"


def _literal(text: str) -> str:
    """``text`` as a string literal of ML Metadata's filter queries (ZetaSQL: quotes and backslashes escaped).

    ml-metadata 1.16 matches no name that holds a backslash, however it is escaped; TFX's names hold none.
    """
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run_executions(store: metadata_store.MetadataStore, run_id: str) -> List[metadata_store_pb2.Execution]:
    """The executions of one pipeline run (its ``pipeline_run`` context), cached ones included, in the order they
    started."""
    return sorted(_executions(
        store, f"contexts_a.type = {_literal(_PIPELINE_RUN_CONTEXT)} AND contexts_a.name = {_literal(run_id)}"),
        key=lambda e: (e.create_time_since_epoch, e.id))


def pipeline_artifacts(store: metadata_store.MetadataStore, pipeline_name: str) -> List[metadata_store_pb2.Artifact]:
    """Every artifact of a pipeline (its ``pipeline`` context), whatever its state."""
    return store.get_artifacts(list_options=metadata_store.ListOptions(
        filter_query=f"contexts_a.type = {_literal(_PIPELINE_CONTEXT)} AND contexts_a.name = {_literal(pipeline_name)}"))


def component_runs(store: metadata_store.MetadataStore, pipeline_name: str, run_id: str) -> List[ComponentRun]:
    """The executions of one pipeline run, in the order they started."""
    return [component_run(store, execution, pipeline_name) for execution in run_executions(store, run_id)]


def component_run(store: metadata_store.MetadataStore, execution: metadata_store_pb2.Execution,
                  pipeline_name: str, node_id: Optional[str] = None) -> ComponentRun:
    """One execution with its outputs; ``node_id`` when the caller knows it already."""
    outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
    events = [
        event
        for event in store.get_events_by_execution_ids([execution.id])
        if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
    ]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([event.artifact_id for event in events])}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        outputs.setdefault(key, []).append(artifacts[event.artifact_id])
    return ComponentRun(
        node_id=node_id or node_id_of(store, execution, pipeline_name),
        state=EXECUTION_STATES.get(execution.last_known_state, "unknown"),
        seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0,
        outputs=outputs,
        properties={
            key: str(value.string_value or value.int_value or value.double_value)
            for key, value in execution.custom_properties.items()
        },
        started=execution.create_time_since_epoch / 1000.0,
    )


def node_id_of(store: metadata_store.MetadataStore, execution: metadata_store_pb2.Execution,
               pipeline_name: str) -> str:
    """The node id of an execution (its execution type's name where it has no node context)."""
    return _node_id(store, execution.id, pipeline_name) or str(execution.type)


def run_ids(store: metadata_store.MetadataStore, pipeline_name: str) -> List[tuple]:
    """``(run_id, start time in ms)`` of every run of a pipeline, oldest first."""
    runs = store.get_contexts(list_options=metadata_store.ListOptions(
        order_by=metadata_store.OrderByField.CREATE_TIME, is_asc=True, filter_query=_runs_of(pipeline_name)))
    return [(c.name, c.create_time_since_epoch) for c in sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))]


# The ModelBlessing property the Evaluator sets (tfx.components.evaluator.constants.
# ARTIFACT_PROPERTY_BLESSED_KEY; a test pins it), read here without importing TFX.
BLESSED_PROPERTY = "blessed"


def is_blessed(blessing: metadata_store_pb2.Artifact) -> bool:
    """Whether an Evaluator's ``blessing`` artifact blesses the model (its ``blessed`` property in ML Metadata)."""
    return blessing.custom_properties[BLESSED_PROPERTY].int_value == 1


def read_artifact_json(path: str) -> Optional[Dict[str, Any]]:
    """A JSON file an artifact holds (local path or URI), or None if it is absent."""
    if "://" not in path:  # local: no need to load TensorFlow
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)

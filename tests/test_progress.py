"""Progress lines read from ML Metadata: a store laid out as TFX's runners write it (a pipeline
context, a pipeline_run context under it, a node context named PIPELINE.NODE_ID per component)."""

import logging

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.definition import nodes
from pipeline.records import metadata, progress

PIPELINE = "imdb-test"


def _store(path):
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def _context(store, type_name, name):
    type_id = store.put_context_type(metadata_store_pb2.ContextType(name=type_name))
    (context_id,) = store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name=name)])
    return context_id


def _start_execution(store, run_context, node_id, pipeline=PIPELINE):
    """A RUNNING execution of ``node_id`` in the run, as TFX's launcher registers it."""
    type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(name=f"tfx.{node_id}"))
    execution = metadata_store_pb2.Execution(type_id=type_id, last_known_state=metadata_store_pb2.Execution.RUNNING)
    node_context = _context(store, "node", f"{pipeline}.{node_id}")
    execution_id, _, _ = store.put_execution(execution, [], [])
    store.put_attributions_and_associations([], [
        metadata_store_pb2.Association(context_id=run_context, execution_id=execution_id),
        metadata_store_pb2.Association(context_id=node_context, execution_id=execution_id)])
    return execution_id


def test_a_long_component_says_it_is_alive_until_it_ends(tmp_path, caplog):
    path = tmp_path / "metadata.sqlite"
    store = _store(path)
    pipeline_context = _context(store, "pipeline", PIPELINE)
    now = [1000.0]
    monitor = progress.ProgressMonitor(str(path), PIPELINE, heartbeat_s=60, clock=lambda: now[0])
    run_context = _context(store, "pipeline_run", "run-1")
    store.put_parent_contexts([metadata_store_pb2.ParentContext(child_id=run_context, parent_id=pipeline_context)])
    execution_id = _start_execution(store, run_context, nodes.TRANSFORM)
    assert metadata.latest_run_id(metadata.open_store(str(path)), PIPELINE) == "run-1"

    with caplog.at_level(logging.INFO, logger=progress.LOGGER.name):
        for seconds in (0, 30, 59, 61, 100, 125, 181):
            now[0] = 1000.0 + seconds
            monitor.poll()
        (execution,) = store.get_executions_by_id([execution_id])
        execution.last_known_state = metadata_store_pb2.Execution.COMPLETE
        store.put_executions([execution])
        now[0] = 1300.0
        monitor.poll()
        monitor.poll()
    lines = [" ".join(record.getMessage().split()) for record in caplog.records]
    # "started" at 0 s, then a line a minute (61 s, then 121 s would be due: seen at 125 s), then the end.
    assert lines[:3] == ["Transform started", "Transform running 61 s", "Transform running 125 s"]
    assert len(lines) == 4 and lines[3].startswith("Transform ran")


def test_names_with_quotes_are_read_as_names(tmp_path):
    # ML Metadata's filter queries take names as string literals: a quote in one must not end it.
    name, run_id = "it's a pipeline", "run 'one'"
    path = tmp_path / "metadata.sqlite"
    store = _store(path)
    pipeline_context = _context(store, "pipeline", name)
    run_context = _context(store, "pipeline_run", run_id)
    store.put_parent_contexts([metadata_store_pb2.ParentContext(child_id=run_context, parent_id=pipeline_context)])
    execution_id = _start_execution(store, run_context, nodes.TRAINER, pipeline=name)
    # TFX's launcher associates each execution with the pipeline's context too.
    store.put_attributions_and_associations(
        [], [metadata_store_pb2.Association(context_id=pipeline_context, execution_id=execution_id)])
    reader = metadata.open_store(str(path))
    assert metadata.latest_run_id(reader, name) == run_id
    assert metadata.run_ids(reader, name)[0][0] == run_id
    assert [(run.node_id, run.state) for run in metadata.component_runs(reader, name, run_id)] == [
        (nodes.TRAINER, nodes.RUNNING)]
    assert metadata.cancel_orphaned_executions(str(path), name) == [nodes.TRAINER]


class _CountingStore:
    """A MetadataStore that counts the queries made through it."""

    def __init__(self, store):
        self._store, self.calls = store, []

    def __getattr__(self, name):
        method = getattr(self._store, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)
        return counted


def test_a_poll_reads_the_runs_executions_and_no_more_until_one_ends(tmp_path, caplog, monkeypatch):
    path = tmp_path / "metadata.sqlite"
    store = _store(path)
    pipeline_context = _context(store, "pipeline", PIPELINE)
    opened = []
    monkeypatch.setattr(metadata, "open_store", lambda p: opened.append(_CountingStore(_store(p))) or opened[-1])
    monitor = progress.ProgressMonitor(str(path), PIPELINE)
    run_context = _context(store, "pipeline_run", "run-1")
    store.put_parent_contexts([metadata_store_pb2.ParentContext(child_id=run_context, parent_id=pipeline_context)])
    execution_ids = [_start_execution(store, run_context, node) for node in (nodes.EXAMPLE_GEN, nodes.TRANSFORM)]
    with caplog.at_level(logging.INFO, logger=progress.LOGGER.name):
        monitor.poll()  # finds the run, reads both executions and their node ids
        (counting,) = opened
        counting.calls.clear()
        monitor.poll()
        monitor.poll()
        assert counting.calls == ["get_executions", "get_executions"]
        (execution,) = store.get_executions_by_id([execution_ids[0]])
        execution.last_known_state = metadata_store_pb2.Execution.COMPLETE
        store.put_executions([execution])
        counting.calls.clear()
        monitor.poll()  # one ended: its outputs are read once
        assert counting.calls == ["get_executions", "get_events_by_execution_ids", "get_artifacts_by_id"]
    assert len(opened) == 1
    lines = [" ".join(record.getMessage().split()) for record in caplog.records]
    assert lines[:2] == ["AclImdbExampleGen started", "Transform started"]
    assert lines[2].startswith("AclImdbExampleGen ran") and len(lines) == 3

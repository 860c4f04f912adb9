"""One line per component as it starts and ends, read from ML Metadata while the pipeline runs."""

import contextlib
import logging
import os
import threading
import time
from typing import Callable, Dict, Optional, Set

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
import tensorflow as tf
import tensorflow_transform as tft

from components import PROGRESS_LOGGER_NAME
from components.example_gen import INPUT_REPORT_FILE
from components.model import features
from components.model import TRAINING_SUMMARY_FILE
from components.artifacts import ROWS_PROPERTY
from components.projector import PROJECTOR_KEY
from pipeline.definition import nodes
from pipeline.records import metadata

# Progress lines of the command line go through this logger; `--quiet` silences it.
LOGGER = logging.getLogger(PROGRESS_LOGGER_NAME)
# A component still running is reported again this often (seconds).
HEARTBEAT_S = 60.0


def vocabulary_size(transform_graph_uri: str) -> Optional[int]:
    """Tokens in the vocabulary a Transform run built, or None if it has none."""
    try:
        return tft.TFTransformOutput(transform_graph_uri).vocabulary_size_by_name(features.VOCABULARY_NAME)
    except (OSError, ValueError, tf.errors.OpError):
        return None


def highlight(component: metadata.ComponentRun) -> str:
    """The key figure of a finished component, read from its output artifacts ('' if none)."""
    uri = component.output_uri
    try:
        if component.node_id == nodes.EXAMPLE_GEN and uri(nodes.EXAMPLES_OUTPUT):
            report = metadata.read_artifact_json(os.path.join(uri(nodes.EXAMPLES_OUTPUT), INPUT_REPORT_FILE))
            if report:
                problems = sum(report["issue_counts"].values())
                return f"{report['reviews_kept']:,} reviews read, {problems:,} input problems"
        if component.node_id == nodes.TRANSFORM and uri(nodes.TRANSFORM_GRAPH_OUTPUT):
            size = vocabulary_size(uri(nodes.TRANSFORM_GRAPH_OUTPUT))
            if size is not None:
                return f"vocabulary of {size:,} tokens"
        if component.node_id == nodes.TRAINER and uri(nodes.MODEL_RUN_OUTPUT):
            summary = metadata.read_artifact_json(os.path.join(uri(nodes.MODEL_RUN_OUTPUT), TRAINING_SUMMARY_FILE))
            if summary and summary.get("eval_accuracy") is not None:
                return f"eval accuracy {summary['eval_accuracy']:.4f} ({summary['epochs_run']} epochs, {summary['device']})"
        if component.node_id == nodes.EVALUATOR and component.outputs.get(nodes.BLESSING_OUTPUT):
            return "model blessed" if metadata.is_blessed(component.outputs[nodes.BLESSING_OUTPUT][0]) else "model NOT blessed"
        if component.node_id == nodes.PROJECTOR_EXPORTER and component.outputs.get(PROJECTOR_KEY):
            return f"{component.outputs[PROJECTOR_KEY][0].custom_properties[ROWS_PROPERTY].int_value:,} embedding rows"
    except (OSError, ValueError, KeyError, tf.errors.OpError):
        pass
    return ""


class ProgressMonitor(threading.Thread):
    """Polls ML Metadata during a run and logs each component as it starts and ends.

    Reads ML Metadata rather than the runner's log records: libraries reset the
    absl logger's level while components run, which silences those records. A component
    still running after ``heartbeat_s`` gets a line saying so, and another every ``heartbeat_s``,
    so that a long Transform or Trainer does not look hung.

    It shares the pipeline's process (and its GIL), so a poll is one query once the run is
    found: the run's executions. A component's node id is read once, its outputs when it ends.
    """

    def __init__(self, metadata_path: str, pipeline_name: str, interval_s: float = 1.0,
                 heartbeat_s: float = HEARTBEAT_S, clock: Callable[[], float] = time.monotonic):
        super().__init__(name="progress-monitor", daemon=True)
        self._metadata_path = metadata_path
        self._pipeline_name = pipeline_name
        self._interval_s = interval_s
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        self._stop_event = threading.Event()
        self._store: Optional[metadata_store.MetadataStore] = None
        self._earlier_run = self._latest_run_id()
        self._run_id: Optional[str] = None
        self._node_ids: Dict[int, str] = {}  # execution id -> node id
        self._reported_started: Set[str] = set()
        self._reported_finished: Set[str] = set()
        self._started_at: Dict[str, float] = {}  # clock time of each running component's "started" line
        self._last_line_at: Dict[str, float] = {}

    def _open_store(self) -> Optional[metadata_store.MetadataStore]:
        """The store, opened once the runner has created its file."""
        if self._store is None and os.path.exists(self._metadata_path):
            self._store = metadata.open_store(self._metadata_path)
        return self._store

    def _latest_run_id(self) -> Optional[str]:
        try:
            store = self._open_store()
            return metadata.latest_run_id(store, self._pipeline_name) if store else None
        except Exception:  # pylint: disable=broad-except
            return None

    def poll(self) -> None:
        """Logs what changed since the last poll."""
        if self._run_id is None:
            run_id = self._latest_run_id()
            if run_id is None or run_id == self._earlier_run:
                return
            self._run_id = run_id
        try:
            for execution in metadata.run_executions(self._store, self._run_id):
                self._report(execution)
        except Exception:  # pylint: disable=broad-except
            return  # the runner is mid-write; the next poll sees it

    def _report(self, execution: metadata_store_pb2.Execution) -> None:
        if execution.id not in self._node_ids:
            self._node_ids[execution.id] = metadata.node_id_of(self._store, execution, self._pipeline_name)
        node_id = self._node_ids[execution.id]
        if node_id in self._reported_finished:
            return
        state = metadata.EXECUTION_STATES.get(execution.last_known_state, "unknown")
        if state in (*nodes.FINISHED_STATES, nodes.FAILED, nodes.CANCELED):
            component = metadata.component_run(self._store, execution, self._pipeline_name, node_id)
            self._reported_finished.add(node_id)
            figure = highlight(component) if state != nodes.FAILED else ""
            LOGGER.info("%-30s %-7s %7.1f s  %s", node_id, state, component.seconds, figure)
        elif node_id not in self._reported_started:
            self._reported_started.add(node_id)
            self._started_at[node_id] = self._last_line_at[node_id] = self._clock()
            LOGGER.info("%-30s started", node_id)
        elif self._clock() - self._last_line_at[node_id] >= self._heartbeat_s:
            self._last_line_at[node_id] = self._clock()
            LOGGER.info("%-30s running %5.0f s", node_id, self._last_line_at[node_id] - self._started_at[node_id])

    def run(self) -> None:
        while not self._stop_event.wait(self._interval_s):
            self.poll()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.poll()


@contextlib.contextmanager
def component_progress(metadata_path: str, pipeline_name: str):
    """Logs progress lines while the block runs the pipeline."""
    monitor = ProgressMonitor(metadata_path, pipeline_name)
    monitor.start()
    try:
        yield
    finally:
        monitor.stop()

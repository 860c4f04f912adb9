"""Past runs of an output folder, from ML Metadata: when, on what data, how accurate, pushed or not."""

import dataclasses
import datetime
import os
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from components.model import TRAINING_SUMMARY_FILE
from pipeline.definition import nodes
from pipeline.records import metadata

# ExampleGen's execution property naming the data (tfx.types.standard_component_specs.INPUT_BASE_KEY)
# and the Pusher's custom properties of its output (tfx/components/pusher/executor.py); read here
# without importing TFX, so that `runs` answers quickly. A test pins them.
INPUT_BASE_PROPERTY = "input_base"
PUSHED_PROPERTY = "pushed"
PUSHED_VERSION_PROPERTY = "pushed_version"


@dataclasses.dataclass(frozen=True)
class PastRun:
    run_id: str
    started: datetime.datetime
    data_dir: str
    # "blessed, pushed VERSION", "blessed, not pushed" (already served), "cached, pushed nothing" (the verdict of
    # an earlier run), "not blessed", "failed at NODE", "interrupted at NODE", "incomplete"
    status: str
    eval_accuracy: Optional[float]
    seconds: float
    # Whether its outputs are still on disk: retention deletes those of older runs (pipeline/records/retention.py).
    artifacts_kept: bool = True


def _training_accuracy(model_run_uri: str) -> Optional[float]:
    summary = metadata.read_artifact_json(os.path.join(model_run_uri, TRAINING_SUMMARY_FILE))
    return summary.get("eval_accuracy") if summary else None


def _verdict(components: Dict[str, metadata.ComponentRun]) -> str:
    """What a finished run decided: the Evaluator's blessing, and what the Pusher did with it."""
    evaluator, pusher = components.get(nodes.EVALUATOR), components.get(nodes.PUSHER)
    if pusher and pusher.state == nodes.CACHED:
        return "cached, pushed nothing"
    if not (evaluator and evaluator.outputs.get(nodes.BLESSING_OUTPUT)):
        return "incomplete"
    if not metadata.is_blessed(evaluator.outputs[nodes.BLESSING_OUTPUT][0]):
        return "not blessed"
    pushed = pusher.outputs.get(nodes.PUSHED_MODEL_OUTPUT) if pusher else None
    if not pushed:
        return "blessed"
    properties = pushed[0].custom_properties
    if not properties[PUSHED_PROPERTY].int_value:
        return "blessed, not pushed"
    return f"blessed, pushed {properties[PUSHED_VERSION_PROPERTY].string_value}"


def past_runs(metadata_path: str, pipeline_name: str) -> List[PastRun]:
    """Every run recorded in ML Metadata, oldest first."""
    if not os.path.exists(metadata_path):
        return []
    store = metadata.open_store(metadata_path)
    result = []
    for run_id, started_ms in metadata.run_ids(store, pipeline_name):
        components = {c.node_id: c for c in metadata.component_runs(store, pipeline_name, run_id)}
        failed = [c.node_id for c in components.values() if c.state == nodes.FAILED]
        interrupted = [c.node_id for c in components.values() if c.state in (nodes.CANCELED, nodes.RUNNING, nodes.NEW)]
        if failed:
            status = f"failed at {failed[0]}"
        elif interrupted:
            status = f"interrupted at {interrupted[0]}"
        else:
            status = _verdict(components)
        trainer = components.get(nodes.TRAINER)
        accuracy = None
        if trainer and trainer.output_uri(nodes.MODEL_RUN_OUTPUT):
            accuracy = _training_accuracy(trainer.output_uri(nodes.MODEL_RUN_OUTPUT))
        example_gen = components.get(nodes.EXAMPLE_GEN)
        seconds = sum(c.seconds for c in components.values())
        outputs = [a for c in components.values() for artifacts in c.outputs.values() for a in artifacts]
        result.append(
            PastRun(
                run_id=run_id,
                started=datetime.datetime.fromtimestamp(started_ms / 1000),
                data_dir=example_gen.properties.get(INPUT_BASE_PROPERTY, "?") if example_gen else "?",
                status=status,
                eval_accuracy=accuracy,
                seconds=seconds,
                artifacts_kept=not any(a.state == metadata_store_pb2.Artifact.DELETED for a in outputs),
            )
        )
    return result


def format_runs(runs: List[PastRun]) -> str:
    if not runs:
        return "No runs recorded yet."
    lines = [f"{'started':<19}  {'eval acc':>8}  {'seconds':>7}  {'status':<28}  data"]
    for run in runs:
        accuracy = f"{run.eval_accuracy:.4f}" if run.eval_accuracy is not None else "-"
        status = run.status if run.artifacts_kept else f"{run.status} (artifacts deleted)"
        lines.append(
            f"{run.started:%Y-%m-%d %H:%M:%S}  {accuracy:>8}  {run.seconds:7.1f}  {status:<28}  {run.data_dir}"
        )
    return "\n".join(lines)

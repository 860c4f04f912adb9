"""What a finished run produced, read from ML Metadata by the pipeline's node ids; and the stable copies.

Runner-neutral: any runner whose ML Metadata store is reachable from here (the local
runner, the retraining loop) builds its run report and publishes the projector files
with these functions.
"""

import dataclasses
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.types import artifact_utils

from components.example_gen import INPUT_REPORT_FILE
from components.model import TRAINING_SUMMARY_FILE
from components.projector import NEIGHBOURS_FILE, PROJECTOR_KEY
from components.validation import STATISTICS_FILE
from components.word2vec import SUMMARY_FILE as WORD2VEC_SUMMARY_FILE, WORD_EMBEDDING_KEY
from pipeline import layout
from pipeline.definition import nodes
from pipeline.records import evaluation, metadata, progress, status


@dataclasses.dataclass(frozen=True)
class RunReport:
    """What a finished run produced."""

    run_id: str
    seconds: float
    components: List[metadata.ComponentRun]
    projector_dir: str
    serving_model_dir: Optional[str]
    training_summary: dict
    split_counts: Dict[str, int]
    neighbours: Dict[str, list]
    evaluation: Optional[evaluation.EvaluationSummary]
    input_report: Dict[str, Any]
    vocabulary_size: Optional[int] = None
    pushed_new_version: bool = False  # False: the served model is the one served before the run
    word2vec: Dict[str, Any] = dataclasses.field(default_factory=dict)  # the Word2Vec summary, when it ran
    pruned: Optional[Any] = None  # retention.Pruned: what the run's retention deleted of older runs
    settings_digest: Optional[str] = None  # RunSettings.settings_digest of the run's settings

    def exit_code(self) -> int:
        """0, or ``status.EXIT_REFUSED`` / ``status.EXIT_DATA_WARNING``."""
        details = self.status_details()
        return status.exit_code(details["outcome"], details["warnings"])

    def status_details(self) -> Dict[str, Any]:
        """What ``status.json`` says of this run (``pipeline/records/status.py``): its outcome and the details."""
        blessed = self.evaluation.blessed if self.evaluation else None
        if self.pushed_new_version:
            outcome = status.PUSHED
        elif blessed:
            outcome = status.ALREADY_SERVED
        else:
            outcome = status.REFUSED
        by_node = {c.node_id: c for c in self.components}
        examples = by_node[nodes.EXAMPLE_GEN].outputs.get(nodes.EXAMPLES_OUTPUT) if nodes.EXAMPLE_GEN in by_node else None
        # TFX records span 0 for a folder without spans.
        span = examples[0].custom_properties["span"].int_value if examples and "span" in examples[0].custom_properties \
            else 0
        problem = self.evaluation.data_problem() if self.evaluation else None
        return {
            status.SETTINGS_DIGEST: self.settings_digest,
            "outcome": outcome, "run_id": self.run_id, "span": span or None, "warnings": [problem] if problem else [],
            "pushed_version": os.path.basename(self.serving_model_dir) if self.pushed_new_version else None,
            "served_version": os.path.basename(self.serving_model_dir) if self.serving_model_dir else None,
            "eval_accuracy": self.evaluation.metrics.get("binary_accuracy") if self.evaluation else None,
            "seconds": {"total": round(self.seconds, 1), **{c.node_id: round(c.seconds, 1) for c in self.components}},
            "pruned": dataclasses.asdict(self.pruned) if self.pruned else None,
        }


def split_counts(statistics: Any) -> Dict[str, int]:
    """Examples per split, from StatisticsGen's ``ExampleStatistics`` artifact (no pass over the data)."""
    counts = {}
    for split in artifact_utils.decode_split_names(statistics.properties["split_names"].string_value):
        path = os.path.join(statistics.uri, f"Split-{split}", STATISTICS_FILE)
        if not tf.io.gfile.exists(path):
            continue
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        with tf.io.gfile.GFile(path, "rb") as f:
            stats.ParseFromString(f.read())
        counts[split] = sum(dataset.num_examples for dataset in stats.datasets)
    return counts


def replace_dir(source: str, destination: str, extra: Optional[Dict[str, str]] = None) -> None:
    """Copies ``source`` to ``destination``, swapping the old copy out only once the new one is whole.

    Args:
      source: Folder to copy.
      destination: Where the copy goes; an earlier copy there is replaced.
      extra: ``{subfolder name: folder}`` copied into the new copy as well.
    """
    parent = os.path.dirname(destination)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=parent)
    try:
        shutil.copytree(source, os.path.join(staging, "new"))
        for name, folder in (extra or {}).items():
            shutil.copytree(folder, os.path.join(staging, "new", name))
        old = os.path.join(staging, "old")
        if os.path.exists(destination):
            os.replace(destination, old)
        os.replace(os.path.join(staging, "new"), destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish_projector(components: Dict[str, metadata.ComponentRun], projector_dir: str) -> None:
    """Copies the run's projector files, with the Trainer's logs in ``training/``, to ``projector_dir``.

    The training logs go beside the projector files, so that one `tensorboard --logdir`
    shows both (the Projector plugin reads only the root of --logdir, not --logdir_spec).

    Raises:
      RuntimeError: If the run produced no projector files.
    """
    exporter = components.get(nodes.PROJECTOR_EXPORTER)
    if not exporter or not exporter.output_uri(PROJECTOR_KEY):
        raise RuntimeError("The run produced no projector files; see the log above.")
    trainer = components.get(nodes.TRAINER)
    training_logs = {}
    if trainer and trainer.output_uri(nodes.MODEL_RUN_OUTPUT):
        training_logs[layout.TRAINING_LOGS_FOLDER] = trainer.output_uri(nodes.MODEL_RUN_OUTPUT)
    replace_dir(exporter.output_uri(PROJECTOR_KEY), projector_dir, training_logs)


def collect(
    components: List[metadata.ComponentRun], run_id: str, seconds: float, projector_dir: str,
    serving_model_dir: Optional[str], served_before: Optional[str] = None,
) -> RunReport:
    """The report of a finished run from its component executions (``metadata.component_runs``).

    ``serving_model_dir`` is the newest served model after the run, ``served_before`` before it.
    """
    by_node = {c.node_id: c for c in components}

    def output(node_id: str, key: str) -> Optional[str]:
        return by_node[node_id].output_uri(key) if node_id in by_node else None

    model_run = output(nodes.TRAINER, nodes.MODEL_RUN_OUTPUT)
    training_summary = metadata.read_artifact_json(os.path.join(model_run, TRAINING_SUMMARY_FILE)) if model_run else None
    examples = output(nodes.EXAMPLE_GEN, nodes.EXAMPLES_OUTPUT)
    input_report = metadata.read_artifact_json(os.path.join(examples, INPUT_REPORT_FILE)) if examples else None
    statistics = by_node[nodes.STATISTICS_GEN].outputs.get(nodes.STATISTICS_OUTPUT) if nodes.STATISTICS_GEN in by_node else None
    evaluator = by_node.get(nodes.EVALUATOR)
    evaluation_summary = None
    if evaluator and evaluator.output_uri(nodes.EVALUATION_OUTPUT) and evaluator.outputs.get(nodes.BLESSING_OUTPUT):
        evaluation_summary = evaluation.read_evaluation(evaluator.output_uri(nodes.EVALUATION_OUTPUT),
                                                        evaluator.outputs[nodes.BLESSING_OUTPUT][0])
    transform_graph = output(nodes.TRANSFORM, nodes.TRANSFORM_GRAPH_OUTPUT)
    word_embedding = output(nodes.WORD2VEC, WORD_EMBEDDING_KEY)
    return RunReport(
        run_id=run_id,
        seconds=seconds,
        components=components,
        projector_dir=projector_dir,
        serving_model_dir=serving_model_dir,
        training_summary=training_summary or {},
        split_counts=split_counts(statistics[0]) if statistics else {},
        neighbours=metadata.read_artifact_json(os.path.join(projector_dir, NEIGHBOURS_FILE)) or {},
        evaluation=evaluation_summary,
        input_report=input_report or {},
        vocabulary_size=progress.vocabulary_size(transform_graph) if transform_graph else None,
        pushed_new_version=serving_model_dir is not None and serving_model_dir != served_before,
        word2vec=metadata.read_artifact_json(os.path.join(word_embedding, WORD2VEC_SUMMARY_FILE)) or {} if word_embedding else {},
    )

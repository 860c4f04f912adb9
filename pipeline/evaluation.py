"""Reading the Evaluator's results: metrics of the new and the baseline model, and the verdict."""

import dataclasses
import os
from typing import Dict, List

import tensorflow as tf
import tensorflow_model_analysis as tfma

BLESSED_FILE = "BLESSED"  # the Evaluator writes BLESSED or NOT_BLESSED into the blessing artifact


@dataclasses.dataclass(frozen=True)
class EvaluationSummary:
    """Overall-slice metrics of the candidate and (if any) baseline model, and the verdict."""

    metrics: Dict[str, float]
    baseline_metrics: Dict[str, float]
    blessed: bool
    failures: List[str]


def read_evaluation(evaluation_uri: str, blessing_uri: str) -> EvaluationSummary:
    """Reads an Evaluator's ``evaluation`` and ``blessing`` artifacts."""
    candidate: Dict[str, float] = {}
    baseline: Dict[str, float] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        if metrics_for_slice.slice_key.single_slice_keys:
            continue  # only the overall slice
        for entry in metrics_for_slice.metric_keys_and_values:
            if entry.key.is_diff:
                continue
            if not entry.value.HasField("double_value"):
                continue
            target = baseline if entry.key.model_name == "baseline" else candidate
            target[entry.key.name] = entry.value.double_value.value
    failures = []
    validation = tfma.load_validation_result(evaluation_uri)
    for metrics_result in validation.metric_validations_per_slice:
        for failure in metrics_result.failures:
            failures.append(f"{failure.metric_key.name}: {failure.message}")
    blessed = tf.io.gfile.exists(os.path.join(blessing_uri, BLESSED_FILE))
    return EvaluationSummary(metrics=candidate, baseline_metrics=baseline, blessed=blessed, failures=failures)

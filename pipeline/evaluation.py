"""Reading the Evaluator's results: metrics of the new and the baseline model, and the verdict."""

import dataclasses
from typing import Dict, List

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx.components.evaluator import constants as evaluator_constants


@dataclasses.dataclass(frozen=True)
class EvaluationSummary:
    """Overall-slice metrics of the candidate and (if any) baseline model, and the verdict."""

    metrics: Dict[str, float]
    baseline_metrics: Dict[str, float]
    blessed: bool
    failures: List[str]


def is_blessed(blessing: metadata_store_pb2.Artifact) -> bool:
    """Whether an Evaluator's ``blessing`` artifact blesses the model (its ``blessed`` property in ML Metadata)."""
    return blessing.custom_properties[evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY].int_value == 1


def describe_failure(failure) -> str:
    """One line for a TFMA ValidationFailure: the metric, its value, and the threshold it missed."""
    key = failure.metric_key
    value = failure.metric_value.double_value.value if failure.metric_value.HasField("double_value") else None
    threshold = failure.metric_threshold
    if key.is_diff:
        limit = -threshold.change_threshold.absolute.value
        what = f"change from the baseline {value:+.4f}" if value is not None else "change from the baseline"
        rule = f"may be at most {limit:g} below the latest blessed model"
    else:
        what = f"{value:.4f}" if value is not None else "value"
        rule = f"must be at least {threshold.value_threshold.lower_bound.value:g}"
    return f"{key.name} {what}: {rule}" + (f" ({failure.message})" if failure.message else "")


def read_evaluation(evaluation_uri: str, blessing: metadata_store_pb2.Artifact) -> EvaluationSummary:
    """Reads an Evaluator's ``evaluation`` output and its ``blessing`` artifact."""
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
        failures.extend(describe_failure(failure) for failure in metrics_result.failures)
    blessed = is_blessed(blessing)
    return EvaluationSummary(metrics=candidate, baseline_metrics=baseline, blessed=blessed, failures=failures)

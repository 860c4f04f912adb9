"""Reading the Evaluator's results: metrics of the new and the baseline model, and the verdict."""

import dataclasses
from typing import Dict, List, Optional

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2

from components.example_gen import EXCLUDE_MARKER, SPAN_KEY
from pipeline.records import metadata

ACCURACY = "binary_accuracy"
# How much worse the served model may score on the newest span than on the older ones
# before the run summary calls it a likely data problem.
DATA_PROBLEM_MARGIN = 0.15


@dataclasses.dataclass(frozen=True)
class EvaluationSummary:
    """Overall-slice metrics of the candidate and (if any) baseline model, and the verdict."""

    metrics: Dict[str, float]
    baseline_metrics: Dict[str, float]
    blessed: bool
    failures: List[str]
    # Over spans: accuracy of the new and of the baseline (served) model on each span's share.
    span_accuracy: Dict[int, float] = dataclasses.field(default_factory=dict)
    span_baseline_accuracy: Dict[int, float] = dataclasses.field(default_factory=dict)

    def data_problem(self, margin: float = DATA_PROBLEM_MARGIN) -> Optional[str]:
        """A warning when the served model scores far worse on the newest span than on the older ones."""
        if len(self.span_baseline_accuracy) < 2:
            return None
        newest = max(self.span_baseline_accuracy)
        older = [accuracy for span, accuracy in self.span_baseline_accuracy.items() if span != newest]
        mean_older = sum(older) / len(older)
        if self.span_baseline_accuracy[newest] < mean_older - margin:
            return (f"the served model scores {self.span_baseline_accuracy[newest]:.4f} on span {newest} but "
                    f"{mean_older:.4f} on the older spans: likely a data problem in span {newest} "
                    f"(wrong labels?). Fix: check it; to keep it out of every window, put a file named "
                    f"{EXCLUDE_MARKER} in its folder (span-{newest}/{EXCLUDE_MARKER})")
        return None


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
    span_accuracy: Dict[int, float] = {}
    span_baseline_accuracy: Dict[int, float] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        slice_keys = metrics_for_slice.slice_key.single_slice_keys
        if slice_keys:
            if len(slice_keys) == 1 and slice_keys[0].column == SPAN_KEY:
                span = int(slice_keys[0].int64_value)
                for entry in metrics_for_slice.metric_keys_and_values:
                    if entry.key.name == ACCURACY and not entry.key.is_diff and entry.value.HasField("double_value"):
                        target = span_baseline_accuracy if entry.key.model_name == "baseline" else span_accuracy
                        target[span] = entry.value.double_value.value
            continue
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
        where = "".join(f"{key.column} {key.int64_value or key.bytes_value.decode() or key.float_value}: "
                        for key in metrics_result.slice_key.single_slice_keys)
        failures.extend(where + describe_failure(failure) for failure in metrics_result.failures)
    blessed = metadata.is_blessed(blessing)
    return EvaluationSummary(metrics=candidate, baseline_metrics=baseline, blessed=blessed, failures=failures,
                             span_accuracy=span_accuracy, span_baseline_accuracy=span_baseline_accuracy)

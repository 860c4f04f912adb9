"""Reading TFDV anomalies and statistics into a readable verdict, with no TFX types."""

import os
from typing import Dict, List, Mapping, Optional

import tensorflow as tf
from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from components.validation import (  # noqa: F401  (DataValidationError: raised here; importable from here)
    STATISTICS_FILE, DataValidationError, check_label_balance_bound)

ANOMALIES_FILE = "SchemaDiff.pb"  # as ExampleValidator writes it, per split


def label_balance_config(label_key: str, max_deviation: float) -> custom_validation_config_pb2.CustomValidationConfig:
    """A TFDV custom validation: the share of positive labels stays within 0.5 ± ``max_deviation``.

    With labels in {0, 1}, the label's mean is the positive share.
    """
    check_label_balance_bound(max_deviation)
    low, high = 0.5 - max_deviation, 0.5 + max_deviation
    config = custom_validation_config_pb2.CustomValidationConfig()
    feature = config.feature_validations.add()
    feature.feature_path.step.append(label_key)
    validation = feature.validations.add()
    validation.sql_expression = f"feature.num_stats.mean BETWEEN {low:.4f} AND {high:.4f}"
    validation.severity = anomalies_pb2.AnomalyInfo.ERROR
    validation.description = f"Label balance out of bounds: the share of positive reviews must be {low:.2f}-{high:.2f}"
    return config


def read_anomalies(split_dir: str) -> anomalies_pb2.Anomalies:
    """Reads one split's anomalies (``SchemaDiff.pb``) from a folder."""
    anomalies = anomalies_pb2.Anomalies()
    with tf.io.gfile.GFile(os.path.join(split_dir, ANOMALIES_FILE), "rb") as f:
        anomalies.ParseFromString(f.read())
    return anomalies


def read_statistics(split_dir: str) -> Optional[statistics_pb2.DatasetFeatureStatistics]:
    """Reads one split's statistics (``FeatureStats.pb``), or None if absent."""
    path = os.path.join(split_dir, STATISTICS_FILE)
    if not tf.io.gfile.exists(path):
        return None
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    with tf.io.gfile.GFile(path, "rb") as f:
        stats.ParseFromString(f.read())
    return stats.datasets[0] if stats.datasets else None


def _feature_mean(stats: Optional[statistics_pb2.DatasetFeatureStatistics], name: str) -> Optional[float]:
    if stats is None:
        return None
    for feature in stats.features:
        if feature.path.step == [name] and feature.HasField("num_stats"):
            return feature.num_stats.mean
    return None


def describe(
    anomalies: anomalies_pb2.Anomalies,
    stats: Optional[statistics_pb2.DatasetFeatureStatistics] = None,
) -> List[str]:
    """One line per anomaly: the feature (or the dataset), what is wrong, and the observed values."""
    lines = []
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        count = f" (it has {stats.num_examples} examples)" if stats is not None else ""
        lines.append(f"dataset: {info.short_description}: {info.description}{count}")
    for feature, info in sorted(anomalies.anomaly_info.items()):
        descriptions = [reason.description for reason in info.reason] or [info.description]
        detail = "; ".join(d for d in descriptions if d)
        if any(r.type == anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION for r in info.reason):
            mean = _feature_mean(stats, feature)
            detail = info.short_description + (f" (observed mean {mean:.3f})" if mean is not None else "")
        lines.append(f"{feature}: {detail}")
    return lines


def check(split_anomalies: Mapping[str, anomalies_pb2.Anomalies], statistics_dirs: Mapping[str, str]) -> None:
    """Raises DataValidationError naming every anomaly of every split, else returns.

    Args:
      split_anomalies: Anomalies per split name.
      statistics_dirs: Folder of each split's statistics, named in the message.
    """
    problems: Dict[str, List[str]] = {}
    for split, anomalies in split_anomalies.items():
        stats_dir = statistics_dirs.get(split)
        lines = describe(anomalies, read_statistics(stats_dir) if stats_dir else None)
        if lines:
            problems[split] = lines
    if not problems:
        return
    message = ["Data validation found anomalies, so training was not started:"]
    for split, lines in problems.items():
        message.extend(f"  split '{split}': {line}" for line in lines)
        if split in statistics_dirs:
            message.append(f"    statistics: {os.path.join(statistics_dirs[split], STATISTICS_FILE)}")
    message.append(
        "Fix the data (or the schema in pipeline/definition/schema/schema.pbtxt if the change is intended); "
        "view the statistics with tfdv.visualize_statistics(tfdv.load_stats_binary(PATH))."
    )
    raise DataValidationError("\n".join(message))

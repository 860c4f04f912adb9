"""A gate that stops the pipeline before training when the data has anomalies."""


# As StatisticsGen writes it, per split.
STATISTICS_FILE = "FeatureStats.pb"


class DataValidationError(RuntimeError):
    """The data has anomalies; the message names each one, its split and the statistics.

    Here, free of TensorFlow imports, so that the command line can catch it without loading TFDV.
    """


def check_label_balance_bound(bound: float) -> None:
    """Raises ValueError unless ``bound`` (the allowed deviation of the positive share from 0.5) is in (0, 0.5)."""
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not 0 < bound < 0.5:
        raise ValueError(f"label_balance_bound must be between 0 and 0.5, got {bound!r}")

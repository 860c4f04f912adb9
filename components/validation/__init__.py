"""A gate that stops the pipeline before training when the data has anomalies."""


class DataValidationError(RuntimeError):
    """The data has anomalies; the message names each one, its split and the statistics.

    Here, free of TensorFlow imports, so that the command line can catch it without loading TFDV.
    """

"""A gate that stops the pipeline before training when the data has anomalies."""

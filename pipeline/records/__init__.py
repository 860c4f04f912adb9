"""What runs left, read back from ML Metadata by the pipeline's node ids: executions and outputs
(``metadata``), progress lines while a run goes (``progress``), a finished run's results and
summary (``results``, ``evaluation``, ``report``), past runs (``history``)."""

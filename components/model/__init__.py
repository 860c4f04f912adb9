"""Module code of the Transform and Trainer components, named by import path."""

# Written by the Trainer into its ModelRun artifact beside the TensorBoard logs. Here, free of
# TensorFlow imports, so that quick commands (`runs`) can read it without loading TensorFlow.
TRAINING_SUMMARY_FILE = "training_summary.json"

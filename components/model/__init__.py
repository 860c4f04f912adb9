"""Module code of the Transform and Trainer components, named by import path."""

# Written by the Trainer into its ModelRun artifact beside the TensorBoard logs. Here, free of
# TensorFlow imports, so that quick commands (`runs`) can read it without loading TensorFlow.
TRAINING_SUMMARY_FILE = "training_summary.json"

# The exported model's signatures and outputs, for the commands and clients that call it.
SERVING_SIGNATURE = "serving_default"  # serialized tf.Examples, as TFMA and TF Serving send them
PREDICT_TEXT_SIGNATURE = "predict_text"  # raw review texts
PROBABILITY_OUTPUT = "probability"
LOGIT_OUTPUT = "logit"

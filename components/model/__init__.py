"""Module code of the Transform and Trainer components, named by import path; here, what other rooms read of
them, free of TensorFlow imports, so that quick commands (`runs`, `predict`) answer without loading it."""

import dataclasses
from typing import List, Optional

# Written by the Trainer into its ModelRun artifact beside the TensorBoard logs.
TRAINING_SUMMARY_FILE = "training_summary.json"

# The exported model's signatures and outputs, for the commands and clients that call it.
SERVING_SIGNATURE = "serving_default"  # serialized tf.Examples, as TFMA and TF Serving send them
PREDICT_TEXT_SIGNATURE = "predict_text"  # raw review texts
PROBABILITY_OUTPUT = "probability"
LOGIT_OUTPUT = "logit"


# In the training summary: what a model started from (components/model/warm_start.py).
@dataclasses.dataclass(frozen=True)
class WarmStart:
    """What was carried over from the previous model."""

    source: Optional[str]  # the previous model's folder; None: trained from scratch
    rows_carried: int = 0  # vocabulary rows carried by token, hashed n-gram rows by position
    rows_composed: int = 0  # counted n-grams started from the mean of their words' vectors
    rows_new: int = 0
    weights_copied: List[str] = dataclasses.field(default_factory=list)
    weights_fresh: List[str] = dataclasses.field(default_factory=list)
    reason: str = ""  # why it trained from scratch

    def describe(self) -> str:
        if self.source is None:
            return f"trained from scratch ({self.reason})"
        return (f"warm start from {self.source}: {self.rows_carried:,} embedding rows carried over, "
                + (f"{self.rows_composed:,} n-grams from their words, " if self.rows_composed else "")
                + f"{self.rows_new:,} new; {len(self.weights_copied)} other weights copied"
                + (f", {len(self.weights_fresh)} fresh (shapes differ)" if self.weights_fresh else ""))

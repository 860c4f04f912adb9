"""Using a served model: scoring raw reviews and measuring accuracy on an aclImdb folder."""

import dataclasses
import os
from typing import Iterable, List, Sequence

import numpy as np
import tensorflow as tf

from components.example_gen import DEFAULT_EVAL_PERCENT, EVAL_SPLIT, TEST_SPLIT, TRAIN_SPLIT, aclimdb
from components.model import PREDICT_TEXT_SIGNATURE, PROBABILITY_OUTPUT
from components.served_model import SAVED_MODEL_FILE
from pipeline.data import DataError

BATCH_SIZE = 256
SPLITS = (TEST_SPLIT, EVAL_SPLIT, TRAIN_SPLIT)  # what `evaluate --split` can read


def load_predict_text(model_dir: str):
    """Loads a SavedModel's ``predict_text`` signature.

    Raises:
      DataError: If the folder holds no SavedModel with that signature.
    """
    if not tf.io.gfile.exists(os.path.join(model_dir, SAVED_MODEL_FILE)):
        raise DataError(f"{model_dir} holds no SavedModel. Fix: pass --model a serving_model/<version> folder.")
    model = tf.saved_model.load(model_dir)
    if PREDICT_TEXT_SIGNATURE not in model.signatures:
        raise DataError(
            f"The SavedModel in {model_dir} has no '{PREDICT_TEXT_SIGNATURE}' signature "
            f"(it has {sorted(model.signatures)}). Fix: use a model this pipeline exported."
        )
    return model.signatures[PREDICT_TEXT_SIGNATURE]


def predict(model_dir: str, texts: Sequence[str]) -> np.ndarray:
    """The probability that each review is positive."""
    predict_text = load_predict_text(model_dir)
    return _predict_batches(predict_text, [t.encode("utf-8") if isinstance(t, str) else t for t in texts])


def _predict_batches(predict_text, texts: List[bytes]) -> np.ndarray:
    probabilities = [
        predict_text(text=tf.constant(texts[start : start + BATCH_SIZE], dtype=tf.string))[
            PROBABILITY_OUTPUT
        ].numpy()
        for start in range(0, len(texts), BATCH_SIZE)
    ]
    return np.concatenate(probabilities) if probabilities else np.zeros([0], np.float32)


def split_reviews(
    data_dir: str, split: str, eval_percent: int = DEFAULT_EVAL_PERCENT
) -> List[aclimdb.Review]:
    """The labelled reviews of a split: ``test/``, or the pipeline's ``train``/``eval`` part of ``train/``.

    Raises:
      DataError: If the split has no reviews.
    """
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r}. Fix: use one of {', '.join(SPLITS)}.")
    folder = "test" if split == "test" else "train"
    reviews = list(aclimdb.read_reviews(os.path.join(data_dir, folder, "*", "*.txt")))
    if split != "test":
        want_eval = split == "eval"
        movies = aclimdb.read_movie_ids(data_dir, folder)  # the eval split is carved as the ExampleGen carves it
        reviews = [r for r in reviews
                   if aclimdb.is_eval_review(r.review_id, eval_percent, aclimdb.movie_of(r.review_id, movies)) == want_eval]
    if not reviews:
        raise DataError(
            f"No labelled reviews for split {split!r} in {os.path.join(data_dir, folder)}/pos and /neg. "
            f"Fix: point --data-dir at an aclImdb folder{' with a test/ folder' if split == 'test' else ''}."
        )
    return reviews


@dataclasses.dataclass(frozen=True)
class Evaluation:
    examples: int
    accuracy: float
    precision: float
    recall: float
    auc: float


def evaluate(model_dir: str, reviews: Iterable[aclimdb.Review]) -> Evaluation:
    """Accuracy, precision, recall and AUC of a served model on labelled reviews."""
    from sklearn import metrics  # a TFX dependency; imported here as only this command needs it

    reviews = list(reviews)
    labels = np.array([r.label for r in reviews])
    probability = _predict_batches(load_predict_text(model_dir), [r.text for r in reviews])
    predicted = (probability >= 0.5).astype(int)
    return Evaluation(
        examples=len(reviews),
        accuracy=float(metrics.accuracy_score(labels, predicted)),
        precision=float(metrics.precision_score(labels, predicted, zero_division=0)),
        recall=float(metrics.recall_score(labels, predicted, zero_division=0)),
        auc=float(metrics.roc_auc_score(labels, probability)) if len(set(labels)) == 2 else float("nan"),
    )

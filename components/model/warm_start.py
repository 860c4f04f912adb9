"""Warm start: a new model begins from the weights of a base model.

The base is the latest blessed classifier (scheduled retraining), or the Word2Vec
step's table (``embedding_init='word2vec'``), saved as a SavedModel of the table alone.
The vocabulary is ordered by frequency and changes with the data, so its rows are
carried over by token, not by row number: a token in both vocabularies keeps its
learned vector; a counted n-gram the base lacks starts from the mean of its words'
vectors when the base has them all ("very good" from "very" and "good"); any other new
token starts from its fresh initialisation. Hashed n-gram rows follow the vocabulary's
and are carried over as one block when both models hash into as many buckets (a bucket
holds the same n-grams in every run). Every other weight is copied when its shape
agrees. A model records its vocabulary rows' tokens and its number of n-gram buckets in
``assets.extra/row_tokens.json`` (TF Serving ignores ``assets.extra``) for this.
"""

import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components.model import WarmStart, features

ROW_TOKENS_FILE = os.path.join("assets.extra", "row_tokens.json")


# Keys of row_tokens.json. A file that is a plain list (a model of an earlier release) has no n-gram rows.
TOKENS_KEY, NGRAM_BUCKETS_KEY = "tokens", "ngram_buckets"


def row_tokens(vocabulary: Sequence[str], num_oov_buckets: int) -> List[str]:
    """The token of every row but the hashed n-grams': padding, the OOV rows, then the vocabulary."""
    return [features.PADDING_TOKEN] + features.oov_tokens(num_oov_buckets) + list(vocabulary)


def save_row_tokens(export_dir: str, tokens: Sequence[str], ngram_buckets: int = 0) -> None:
    """Records the rows' tokens and how many hashed n-gram rows follow them."""
    path = os.path.join(export_dir, ROW_TOKENS_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump({TOKENS_KEY: list(tokens), NGRAM_BUCKETS_KEY: ngram_buckets}, f, ensure_ascii=False)


def load_row_tokens(export_dir: str) -> Tuple[List[str], int]:
    """The rows' tokens and the number of hashed n-gram rows that ``save_row_tokens`` recorded."""
    with tf.io.gfile.GFile(os.path.join(export_dir, ROW_TOKENS_FILE)) as f:
        recorded = json.load(f)
    if isinstance(recorded, list):
        return recorded, 0
    return recorded[TOKENS_KEY], recorded.get(NGRAM_BUCKETS_KEY, 0)


def save_embedding_model(export_dir: str, table: np.ndarray, tokens: Sequence[str]) -> None:
    """Saves a token table (e.g. Word2Vec's) as a base model that ``carry_over`` starts a classifier from.

    The layout ``carry_over`` reads from a Trainer's export: a ``model`` whose ``variables`` hold
    ``embedding/embeddings``, and the row tokens. No Keras model: saving Word2Vec's table
    (49,855 x 64) as one took 19 s (traced, with another job running), this way 0.1 s.

    Args:
      export_dir: The SavedModel folder to write.
      table: ``[len(tokens), dim]`` vectors.
      tokens: The token of each row.
    """
    if len(tokens) != len(table):
        raise ValueError(f"{len(tokens)} tokens for a table of {len(table)} rows")
    root = tf.Module(name="embedding_model")
    root.model = tf.train.Checkpoint(
        variables=[tf.Variable(table, name=f"{features.EMBEDDING_LAYER_NAME}/embeddings", trainable=False)])
    tf.saved_model.save(root, export_dir)
    save_row_tokens(export_dir, tokens)


def load_model_variables(saved_model_dir: str) -> Dict[str, np.ndarray]:
    """The Keras model's variables in a SavedModel, by name (``embedding/embeddings:0``, ...).

    The SavedModel's root is expected to track them as ``model.variables``: the Trainer's serving
    module and ``save_embedding_model`` track a checkpoint of the variables there, models exported
    by earlier releases the Keras model itself. Its root variables are read otherwise.
    """
    loaded = tf.saved_model.load(saved_model_dir)
    owner = getattr(loaded, "model", loaded)
    return {variable.name: variable.numpy() for variable in getattr(owner, "variables", [])}


def carry_over(model, tokens: Sequence[str], previous_dir: Optional[str], ngram_buckets: int = 0) -> WarmStart:
    """Sets ``model``'s weights from the model exported in ``previous_dir``, where they fit.

    Args:
      model: The new, built Keras model.
      tokens: The token of each of its rows before the hashed n-grams' (``row_tokens``).
      previous_dir: The base model's SavedModel folder, or None.
      ngram_buckets: The hashed n-gram rows that follow the word rows in ``model``.

    Returns:
      What was carried over; ``source`` None when nothing could be.
    """
    if not previous_dir:
        return WarmStart(None, reason="no base model: neither a warm start nor the Word2Vec table asked for")
    if not tf.io.gfile.exists(previous_dir):
        # The ServedModel step's output when nothing is served yet.
        return WarmStart(None, reason="no model is served yet")
    if not tf.io.gfile.exists(os.path.join(previous_dir, ROW_TOKENS_FILE)):
        return WarmStart(None, reason=f"the base model records no row tokens ({ROW_TOKENS_FILE})")
    previous_tokens, previous_buckets = load_row_tokens(previous_dir)
    previous = load_model_variables(previous_dir)
    embedding_name = f"{features.EMBEDDING_LAYER_NAME}/embeddings:0"
    if embedding_name not in previous:
        return WarmStart(None, reason=f"the base model has no {embedding_name}")

    carried, composed, copied, fresh = 0, 0, [], []
    for variable in model.weights:
        old = previous.get(variable.name)
        if variable.name == embedding_name:
            table = variable.numpy()
            if old.shape[1] != table.shape[1]:
                return WarmStart(None, reason=f"the embedding width changed: {old.shape[1]} in the base model, "
                                              f"{table.shape[1]} now")
            known = {token: row for row, token in enumerate(previous_tokens) if row < old.shape[0]}
            for row, token in enumerate(tokens):
                if token in known:
                    table[row] = old[known[token]]
                    carried += 1
                elif " " in token and all(word in known for word in token.split(" ")):
                    table[row] = np.mean([old[known[word]] for word in token.split(" ")], axis=0)
                    composed += 1
            if ngram_buckets and ngram_buckets == previous_buckets \
                    and old.shape[0] == len(previous_tokens) + previous_buckets:
                table[len(tokens):len(tokens) + ngram_buckets] = old[len(previous_tokens):]
                carried += ngram_buckets
            variable.assign(table)
        elif old is not None and tuple(old.shape) == tuple(variable.shape):
            variable.assign(old)
            copied.append(variable.name)
        else:
            fresh.append(variable.name)
    return WarmStart(previous_dir, rows_carried=carried, rows_composed=composed,
                     rows_new=len(tokens) + ngram_buckets - carried - composed,
                     weights_copied=copied, weights_fresh=fresh)

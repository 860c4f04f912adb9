"""Writing an embedding table as Embedding Projector files, with no TFX types.

Output layout (one folder, usable as ``tensorboard --logdir <folder>`` or uploaded
to projector.tensorflow.org as the two TSVs)::

    vectors.tsv              one row per token: embedding_dim tab-separated floats
    metadata.tsv             one row per token (row i labels row i of vectors.tsv): the token, then,
                             with columns, a header row and the columns (kind, train count, polarity)
    projector_config.pbtxt   names the table (e.g. "classifier") and links vectors.tsv to metadata.tsv
    nearest_neighbours.json  {probe word: [[neighbour, cosine similarity], ...]}
    embedding_pca.png        2-D PCA map of the embedding, probe words labelled
    training_curves.png      loss and accuracy per epoch, train against eval (given a history)
    word2vec/                with a Word2Vec table: its vectors.tsv, metadata.tsv and
                             embedding_pca.png, a second embedding of projector_config.pbtxt

The padding row (id 0) is left out, as in the seed tutorial; the OOV rows are kept.
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorboard.plugins import projector as tb_projector

from components.model import features
from components.projector import DEFAULT_PROBE_WORDS, NEIGHBOURS_FILE, plots

VECTORS_FILE = "vectors.tsv"
METADATA_FILE = "metadata.tsv"
PROJECTOR_CONFIG_FILE = "projector_config.pbtxt"
# Metadata columns: the first is the token; the header names the others.
TOKEN_COLUMN = "token"
KIND_COLUMN = "kind"
TRAIN_COUNT_COLUMN = "train_count"
POLARITY_COLUMN = "polarity"
KIND_WORD, KIND_BIGRAM, KIND_TRIGRAM, KIND_OOV = "word", "bigram", "trigram", "oov"
_KIND_BY_SPACES = {0: KIND_WORD, 1: KIND_BIGRAM, 2: KIND_TRIGRAM}
# The tables' names in the Projector's menu (its config's tensor_name).
CLASSIFIER_TABLE_NAME = "classifier"
WORD2VEC_TABLE_NAME = "word2vec"

# Characters that would end or split a TSV row, by the rules of TensorBoard's parser
# (tab, newline) and of Python's str.splitlines, which tools reading the file may use.
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_OTHER_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
EMPTY_LABEL = "[EMPTY]"


def escape_label(label: str) -> str:
    """Makes a token safe as one metadata row: backslash escapes for tab, newlines and ``\\``."""
    if not label:
        return EMPTY_LABEL
    out = []
    for char in label:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char in _OTHER_LINE_BREAKS:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def embedding_table(variables: Dict[str, np.ndarray], layer_name: str, source: str) -> np.ndarray:
    """The weights of the named Keras Embedding layer among ``warm_start.load_model_variables``' result.

    Raises:
      ValueError: If no variable ``<layer_name>/embeddings`` exists; ``source`` names where it was looked for.
    """
    wanted = f"{layer_name}/embeddings:0"
    if wanted not in variables:
        raise ValueError(
            f"The SavedModel at {source} has no embedding layer named {layer_name!r} "
            f"(looked for variable {wanted}; found {sorted(variables)})."
        )
    return variables[wanted]


@dataclasses.dataclass(frozen=True)
class ProjectorFiles:
    """What ``write_projector_files`` wrote: the folder, row count and width."""

    directory: str
    rows: int
    dimension: int


def write_projector_files(
    directory: str, vectors: np.ndarray, labels: Sequence[str], columns: Optional[Dict[str, Sequence]] = None,
    table_name: str = CLASSIFIER_TABLE_NAME,
) -> ProjectorFiles:
    """Writes the TSVs and the projector config for aligned rows.

    The config points the Projector at ``vectors.tsv`` (its ``tensor_path``) under ``table_name``.
    No checkpoint is written: TensorBoard would list each 2-D tensor of one as a further table,
    named by its checkpoint key.

    Args:
      directory: Output folder; created if missing.
      vectors: ``[rows, dimension]`` embedding rows, the padding row already removed.
      labels: One label per row of ``vectors``.
      columns: Further metadata columns, ``{name: one value per row}``, for colouring and
        searching in the Projector; ``metadata.tsv`` then starts with a header row
        (``token`` and the names), as the Projector requires of more than one column.
      table_name: The table's name in the Projector's menu.

    Raises:
      ValueError: If rows, labels and columns do not pair up.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(labels):
        raise ValueError(f"{len(labels)} labels for an embedding of shape {vectors.shape}: rows must pair up")
    columns = columns or {}
    for name, values in columns.items():
        if len(values) != len(labels):
            raise ValueError(f"metadata column {name!r} has {len(values)} values for {len(labels)} rows")
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, VECTORS_FILE), "w") as f:
        for row in vectors:
            f.write("\t".join(format(float(x), ".7g") for x in row) + "\n")
    with tf.io.gfile.GFile(os.path.join(directory, METADATA_FILE), "w") as f:
        if columns:
            f.write("\t".join([TOKEN_COLUMN, *columns]) + "\n")
        for row, label in enumerate(labels):
            f.write("\t".join([escape_label(label), *(_cell(values[row]) for values in columns.values())]) + "\n")

    config = tb_projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = table_name
    # Relative, so the folder can be copied or moved as a whole.
    embedding.tensor_path = VECTORS_FILE
    embedding.metadata_path = METADATA_FILE
    tb_projector.visualize_embeddings(directory, config)
    return ProjectorFiles(directory=directory, rows=vectors.shape[0], dimension=vectors.shape[1])


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return format(float(value), ".4g")
    return escape_label(str(value))


def read_metadata_labels(path: str) -> List[str]:
    """The token column of a ``metadata.tsv`` (escaped as written), without its header row if it has one."""
    with tf.io.gfile.GFile(path, "r") as f:
        rows = f.read().split("\n")[:-1]
    if rows and rows[0].split("\t")[0] == TOKEN_COLUMN and "\t" in rows[0]:
        rows = rows[1:]
    return [row.split("\t")[0] for row in rows]


def _kind_of(token: str) -> str:
    spaces = token.count(" ")
    return _KIND_BY_SPACES.get(spaces, f"{spaces + 1}-gram")


def token_kinds(labels: Sequence[str], oov_rows: int) -> List[str]:
    """``oov`` for the OOV rows, then ``word``, ``bigram`` or ``trigram`` by the words in the token."""
    return [KIND_OOV if row < oov_rows else _kind_of(label) for row, label in enumerate(labels)]


def classifier_head(variables: Dict[str, np.ndarray]) -> List[Tuple[np.ndarray, np.ndarray, bool]]:
    """The Dense layers after the average, ``(kernel, bias, relu)`` each, among ``warm_start.load_model_variables``'
    result: the tutorial's ``hidden`` (when the model has one), then ``logit``; empty without ``logit``."""
    head = []
    for layer, relu in ((features.HIDDEN_LAYER_NAME, True), (features.LOGIT_LAYER_NAME, False)):
        if f"{layer}/kernel:0" in variables:
            head.append((variables[f"{layer}/kernel:0"], variables[f"{layer}/bias:0"], relu))
    return head if head and head[-1][2] is False else []


def token_polarity(rows: np.ndarray, head: Sequence[Tuple[np.ndarray, np.ndarray, bool]]) -> np.ndarray:
    """The classifier's logit for a review made of one token: its row through the head (dropout off).

    Positive: the token pulls a review towards positive; negative: towards negative.
    """
    values = np.asarray(rows, dtype=np.float64)
    for kernel, bias, relu in head:
        values = values @ kernel + bias
        if relu:
            values = np.maximum(values, 0.0)
    return values[:, 0]


def add_tsv_embedding(directory: str, name: str, source: str, files: Sequence[str] = ()) -> None:
    """Copies another table's projector TSVs into ``directory/name/`` and adds it to the projector config, first.

    TensorBoard's Projector then offers both tables in one view (its ``tensor_path``
    reads a TSV directly, so no checkpoint has to hold both).

    Args:
      directory: A folder ``write_projector_files`` wrote.
      name: The embedding's name in the Projector, and its subfolder.
      source: A folder with ``vectors.tsv`` and ``metadata.tsv`` (and ``files``).
      files: Further files of ``source`` to copy along, when present (e.g. its PCA plot).
    """
    target = os.path.join(directory, name)
    tf.io.gfile.makedirs(target)
    for file_name in (VECTORS_FILE, METADATA_FILE, *files):
        if tf.io.gfile.exists(os.path.join(source, file_name)):
            tf.io.gfile.copy(os.path.join(source, file_name), os.path.join(target, file_name), overwrite=True)
    config = tb_projector.ProjectorConfig()
    with tf.io.gfile.GFile(os.path.join(directory, PROJECTOR_CONFIG_FILE)) as f:
        text_format.Parse(f.read(), config)
    # Listed first, which the Projector opens on: the word table (Word2Vec's) is what a user came to explore, not
    # the classifier's, whose rows are mostly n-grams. Paths relative, so the folder can be moved as a whole.
    embeddings = [tb_projector.EmbeddingInfo(tensor_name=name, tensor_path=f"{name}/{VECTORS_FILE}",
                                             metadata_path=f"{name}/{METADATA_FILE}"), *config.embeddings]
    del config.embeddings[:]
    config.embeddings.extend(embeddings)
    tb_projector.visualize_embeddings(directory, config)


def nearest_neighbours(
    vectors: np.ndarray, labels: Sequence[str], words: Sequence[str], count: int = 10
) -> Dict[str, List[Tuple[str, float]]]:
    """The ``count`` rows most similar (cosine) to each probe word that has a row.

    Args:
      vectors: ``[rows, dimension]`` embedding rows.
      labels: One label per row.
      words: Probe words; those without a row are left out of the result.
      count: Neighbours per word.

    Returns:
      For each probe word found, ``[(label, cosine similarity), ...]``, most similar first.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    row_of = {label: i for i, label in enumerate(labels)}
    result = {}
    for word in words:
        if word not in row_of:
            continue
        row = row_of[word]
        similarity = unit @ unit[row]
        best = [i for i in np.argsort(-similarity, kind="stable") if i != row][:count]
        result[word] = [(labels[i], float(similarity[i])) for i in best]
    return result


def write_neighbours_and_map(directory: str, table: np.ndarray, labels: Sequence[str],
                             probe_words: Sequence[str]) -> Dict[str, List[Tuple[str, float]]]:
    """Writes the probe words' nearest neighbours (``NEIGHBOURS_FILE``) and the PCA map of ``table`` (one row
    per label), and returns the neighbours."""
    neighbours = nearest_neighbours(table, labels, probe_words)
    with tf.io.gfile.GFile(os.path.join(directory, NEIGHBOURS_FILE), "w") as f:
        json.dump(neighbours, f, indent=1, ensure_ascii=False)
    plots.plot_embedding_map(table, labels, neighbours, os.path.join(directory, plots.EMBEDDING_MAP_FILE))
    return neighbours


def row_labels(vocabulary: Sequence[str], oov_labels: Sequence[str]) -> List[str]:
    """Labels of the embedding rows after the padding row: the OOV rows, then the vocabulary."""
    return list(oov_labels) + list(vocabulary)


def export_embedding(
    directory: str,
    table: np.ndarray,
    vocabulary: Sequence[str],
    oov_labels: Sequence[str],
    probe_words: Sequence[str] = DEFAULT_PROBE_WORDS,
    training_history: Optional[Dict[str, List[float]]] = None,
    head: Sequence[Tuple[np.ndarray, np.ndarray, bool]] = (),
    row_counts: Optional[np.ndarray] = None,
) -> ProjectorFiles:
    """Drops the padding row of a full embedding table; writes the projector files, neighbours and plots.

    ``metadata.tsv`` has the columns ``token``, ``kind`` (word, bigram, trigram, oov), ``train_count``
    (given ``row_counts``) and ``polarity`` (given the classifier's ``head``).

    Args:
      directory: Output folder.
      table: The whole embedding table: row 0 padding, then OOV rows, then the vocabulary.
      vocabulary: Tokens of the vocabulary rows, in id order.
      oov_labels: Labels of the OOV rows.
      probe_words: Words whose nearest neighbours go to ``nearest_neighbours.json``.
      training_history: Keras history per epoch; plotted when given.
      head: The classifier's Dense layers after the average (``classifier_head``).
      row_counts: How often each row of the table (padding first) occurs in the train split.

    Raises:
      ValueError: If the table's row count does not match padding + OOV + vocabulary.
    """
    labels = row_labels(vocabulary, oov_labels)
    if table.shape[0] != 1 + len(labels):
        raise ValueError(
            f"The embedding table has {table.shape[0]} rows but padding, {len(oov_labels)} OOV row(s) and "
            f"a vocabulary of {len(vocabulary)} tokens need {1 + len(labels)}: model and Transform graph "
            "do not come from the same run."
        )
    columns = {KIND_COLUMN: token_kinds(labels, len(oov_labels))}
    if row_counts is not None:
        columns[TRAIN_COUNT_COLUMN] = [int(count) for count in row_counts[1:]]
    if head:
        columns[POLARITY_COLUMN] = [float(value) for value in token_polarity(table[1:], head)]
    written = write_projector_files(directory, table[1:], labels, columns)
    write_neighbours_and_map(directory, table[1:], labels, probe_words)
    if training_history:
        plots.plot_training_curves(training_history, os.path.join(directory, plots.TRAINING_CURVES_FILE))
    return written

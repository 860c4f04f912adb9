"""Executor of ProjectorExporter: finds the inputs' files and records the output's properties."""

import json
import os
from typing import Any, Dict, List

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components.artifacts import DIMENSION_PROPERTY, ROWS_PROPERTY
from components.example_gen import TRAIN_SPLIT
from components.model import features, trainer, warm_start
from components.projector import PROJECTOR_KEY, plots, projector

# Keys of the component spec, shared with component.py and the tests.
MODEL_KEY = "model"
MODEL_RUN_KEY = "model_run"
TRANSFORM_GRAPH_KEY = "transform_graph"
EMBEDDING_LAYER_KEY = "embedding_layer"
NUM_OOV_BUCKETS_KEY = "num_oov_buckets"
PROBE_WORDS_KEY = "probe_words"
WORD_EMBEDDING_KEY = "word_embedding"  # optional: Word2Vec's table, shown beside the classifier's
TRANSFORMED_EXAMPLES_KEY = "transformed_examples"  # optional: to count each token in the train split
COUNTED_SPLIT = TRAIN_SPLIT


def _row_counts(examples: types.Artifact, transform_output: tft.TFTransformOutput, rows: int):
    """How often each embedding row occurs in the train split's token ids (what the model reads of
    each review: its first ``sequence_length`` words and their n-grams), padding included."""
    files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], COUNTED_SPLIT), "*"))
    spec = {features.TOKEN_IDS_KEY: transform_output.transformed_feature_spec()[features.TOKEN_IDS_KEY]}
    counts = np.zeros(rows, np.int64)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(1024).map(
        lambda records: tf.io.parse_example(records, spec)[features.TOKEN_IDS_KEY])
    for ids in dataset:
        flat = ids.values if isinstance(ids, tf.SparseTensor) else tf.reshape(ids, [-1])
        counts += np.bincount(flat.numpy(), minlength=rows)[:rows]
    return counts


class Executor(base_executor.BaseExecutor):
    """Reads the embedding table and vocabulary, writes the projector files."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_uri = artifact_utils.get_single_uri(input_dict[MODEL_KEY])
        transform_uri = artifact_utils.get_single_uri(input_dict[TRANSFORM_GRAPH_KEY])
        output = artifact_utils.get_single_instance(output_dict[PROJECTOR_KEY])

        saved_model_dir = path_utils.serving_model_path(model_uri)
        # One load of the SavedModel for the table and the head behind the polarity.
        variables = warm_start.load_model_variables(saved_model_dir)
        table = projector.embedding_table(variables, exec_properties[EMBEDDING_LAYER_KEY], saved_model_dir)
        vocabulary = [
            token.decode("utf-8", errors="replace")
            for token in tft.TFTransformOutput(transform_uri).vocabulary_by_name(features.VOCABULARY_NAME)
        ]
        oov_labels = features.oov_tokens(int(exec_properties[NUM_OOV_BUCKETS_KEY]))
        # The Projector shows the word rows; the hashed n-gram rows after them have no token of their own.
        table = table[: 1 + len(oov_labels) + len(vocabulary)]
        probe_words = json.loads(exec_properties.get(PROBE_WORDS_KEY) or "[]")
        history = None
        if input_dict.get(MODEL_RUN_KEY):
            summary_path = os.path.join(
                artifact_utils.get_single_uri(input_dict[MODEL_RUN_KEY]), trainer.TRAINING_SUMMARY_FILE
            )
            if tf.io.gfile.exists(summary_path):
                with tf.io.gfile.GFile(summary_path) as f:
                    history = json.load(f).get("history")
        row_counts = None
        if input_dict.get(TRANSFORMED_EXAMPLES_KEY):
            row_counts = _row_counts(artifact_utils.get_single_instance(input_dict[TRANSFORMED_EXAMPLES_KEY]),
                                     tft.TFTransformOutput(transform_uri), table.shape[0])
        written = projector.export_embedding(
            output.uri,
            table,
            vocabulary,
            oov_labels,
            probe_words,
            history,
            head=projector.classifier_head(variables),
            row_counts=row_counts,
        )
        if input_dict.get(WORD_EMBEDDING_KEY):
            projector.add_tsv_embedding(output.uri, projector.WORD2VEC_TABLE_NAME,
                                        artifact_utils.get_single_uri(input_dict[WORD_EMBEDDING_KEY]),
                                        files=(plots.EMBEDDING_MAP_FILE, projector.NEIGHBOURS_FILE))
        output.set_int_custom_property(ROWS_PROPERTY, written.rows)
        output.set_int_custom_property(DIMENSION_PROPERTY, written.dimension)

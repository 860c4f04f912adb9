"""Executor of the Word2Vec component: artifact plumbing around ``skipgram``."""

import json
import logging
import os
import tempfile
from typing import Any, Dict, List

import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import schema_utils
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import path_utils
from tfx_bsl.public import tfxio

from components import PROGRESS_LOGGER_NAME
from components.artifacts import DIMENSION_PROPERTY, ROWS_PROPERTY
from components.model import features, warm_start
from components.model.trainer import training_device
from components.projector import projector as projector_lib
from components.word2vec import (
    EXAMPLES_KEY, MODEL_KEY, PROBE_WORDS_KEY, SETTINGS_KEY, SPLITS_KEY, STANDARDIZATION_KEY, SUMMARY_FILE,
    VOCABULARY_FOLDER, WORD_EMBEDDING_KEY, WORD_PAIRS_FILE_KEY, Word2VecSettings, skipgram)

# The metadata column of each word's count in the text Word2Vec learned from (train, eval, unsup),
# hence not the classifier's "train_count".
TEXT_COUNT_COLUMN = "count"
# Progress lines for the command line; a child of its "imdb_embeddings" logger.
_PROGRESS = logging.getLogger(f"{PROGRESS_LOGGER_NAME}.word2vec")

# A vocabulary this large is far past what the table needs; it bounds memory on odd data.
MAX_WORDS = 1_000_000
_TEXT_SPEC = {features.RAW_TEXT_KEY: tf.io.FixedLenFeature([], tf.string)}


def _split_files(examples, splits: List[str]) -> Dict[str, List[str]]:
    """The example files of each requested split the artifact has (``unsup`` is there only when the data has it)."""
    present = artifact_utils.decode_split_names(examples.split_names)
    return {split: fileio.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*"))
            for split in splits if split in present}


def _texts(files: List[str]) -> tf.data.Dataset:
    return (tf.data.TFRecordDataset(files, compression_type="GZIP")
            .batch(1024)
            .map(lambda records: tf.io.parse_example(records, _TEXT_SPEC)[features.RAW_TEXT_KEY],
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


class Executor(BaseBeamExecutor):
    """Builds the word vocabulary with tf.Transform (Beam), then trains skip-gram in TensorFlow."""

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        output = artifact_utils.get_single_instance(output_dict[WORD_EMBEDDING_KEY])
        settings = Word2VecSettings(word2vec=True, **json.loads(exec_properties[SETTINGS_KEY]))
        standardization = exec_properties[STANDARDIZATION_KEY]
        files_by_split = _split_files(examples, json.loads(exec_properties[SPLITS_KEY]))
        # Read before training, so that a bad file fails in seconds, not after minutes.
        pairs_file = exec_properties.get(WORD_PAIRS_FILE_KEY)
        rated_pairs = skipgram.read_word_pairs(pairs_file) if pairs_file else []
        files = [f for split_files in files_by_split.values() for f in split_files]
        if not files:
            raise ValueError(f"Word2Vec found no examples in the splits {sorted(files_by_split)} of {examples.uri}")
        _PROGRESS.info("Word2Vec: learning from the splits %s", sorted(files_by_split))

        # The vocabulary, by tf.Transform over the same standardization as the classifier's.
        vocabulary_dir = os.path.join(output.uri, VOCABULARY_FOLDER)
        source = tfxio.TFExampleRecord(file_pattern=files, schema=schema_utils.schema_from_feature_spec(_TEXT_SPEC),
                                       telemetry_descriptors=["Word2Vec"])
        with self._make_beam_pipeline() as pipeline:
            with tft_beam.Context(temp_dir=tempfile.mkdtemp(prefix="word2vec-tft-")):
                transform_fn = (
                    (pipeline | "ReadText" >> source.BeamSource(), source.TensorAdapterConfig())
                    | "AnalyzeWords" >> tft_beam.AnalyzeDataset(
                        skipgram.word_vocabulary_fn(settings.word2vec_min_count, MAX_WORDS, standardization)))
                _ = transform_fn | "WriteVocabulary" >> tft_beam.WriteTransformFn(vocabulary_dir)
        words, counts = skipgram.read_counted_vocabulary(
            tft.TFTransformOutput(vocabulary_dir).vocabulary_file_by_name(skipgram.WORD_VOCABULARY_NAME))
        if len(words) < 2:
            raise ValueError(f"Word2Vec: only {len(words)} word(s) occur {settings.word2vec_min_count} times or more; "
                             "lower --word2vec-min-count or give it more text")

        # The token ids wait on the local disk (4 bytes a token), read back a chunk at a time.
        with tempfile.TemporaryDirectory(prefix="word2vec-ids-") as ids_folder:
            token_ids = skipgram.write_token_ids(_texts(files), words, ids_folder, standardization)
            _PROGRESS.info("Word2Vec: %d words in the vocabulary, %d tokens of %d reviews", len(words),
                           token_ids.tokens, token_ids.reviews)
            result = skipgram.train(
                token_ids, counts, dim=settings.word2vec_dim, window=settings.word2vec_window,
                negatives=settings.word2vec_negatives, epochs=settings.word2vec_epochs,
                subsample=settings.word2vec_subsample, learning_rate=settings.word2vec_learning_rate,
                batch_size=settings.word2vec_batch_size, seed=settings.word2vec_seed,
                log=lambda line: _PROGRESS.info("Word2Vec: %s", line))

        written = projector_lib.write_projector_files(
            output.uri, result.table, words, {TEXT_COUNT_COLUMN: [int(c) for c in counts]},
            table_name=projector_lib.WORD2VEC_TABLE_NAME)
        probe_words = json.loads(exec_properties[PROBE_WORDS_KEY])
        neighbours = projector_lib.write_neighbours_and_map(output.uri, result.table, words, probe_words)
        summary = {
            "settings": settings.training_config(),
            "splits": sorted(files_by_split),
            "standardization": standardization,
            "reviews": token_ids.reviews,
            "tokens": token_ids.tokens,
            "vocabulary_size": len(words),
            "pairs_per_epoch": result.pairs_per_epoch,
            "loss_per_epoch": result.loss_per_epoch,
            "training_seconds": result.seconds,
            "device": training_device(),
            "nearest_neighbours": neighbours,
        }
        if pairs_file:
            similarity = skipgram.word_similarity(result.table, words, rated_pairs)
            summary["word_similarity"] = {"file": pairs_file, **similarity.__dict__}
            _PROGRESS.info("Word2Vec: Spearman %s on %d pairs of %s", similarity.spearman, similarity.pairs_rated,
                         pairs_file)
        with tf.io.gfile.GFile(os.path.join(output.uri, SUMMARY_FILE), "w") as f:
            json.dump(summary, f, indent=1)
        output.set_int_custom_property(ROWS_PROPERTY, written.rows)
        output.set_int_custom_property(DIMENSION_PROPERTY, written.dimension)
        # Where a Trainer's fn_args.base_model points for a Model artifact.
        model = artifact_utils.get_single_instance(output_dict[MODEL_KEY])
        warm_start.save_embedding_model(path_utils.serving_model_path(model.uri), result.table, words)

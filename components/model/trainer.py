"""The Trainer component's ``run_fn``: trains the embedding model and exports it for serving.

The exported SavedModel carries the tf.Transform graph and two signatures:

- ``serving_default``: serialized tf.Examples (input ``examples``), the TF Serving
  convention; outputs ``probability`` (of a positive review) and ``logit``.
- ``predict_text``: raw review strings (input ``text``); same outputs.
"""

import dataclasses
import json
import logging as std_logging
import os
from typing import Any, Dict, List

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tf_keras.src.saving.legacy.saved_model import utils as keras_saved_model_utils
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from components import PROGRESS_LOGGER_NAME
from components.model import (  # the signature names: also this module's, as callers read them here
    LOGIT_OUTPUT, PREDICT_TEXT_SIGNATURE, PROBABILITY_OUTPUT, SERVING_SIGNATURE, TRAINING_SUMMARY_FILE, features,
    model as model_lib, preprocessing, warm_start)
from components.model.hparams import HParams


# Progress lines (device, epochs) for the command line; a child of its "imdb_embeddings" logger.
_PROGRESS = std_logging.getLogger(f"{PROGRESS_LOGGER_NAME}.trainer")

# Records the train input shuffles among. The ExampleGen writes a split's reviews folder by folder
# (all neg/, then all pos/), so a buffer smaller than the split trains on one label at a time:
# with TFX's default of 10,000, the real train split's 20,088 reviews came in two halves, one per
# label, and the first epoch ended at 0.53 eval accuracy. A record of the fasttext preset with padded ids
# is about 3.3 KB; ragged ids are smaller.
SHUFFLE_BUFFER_RECORDS = 100_000


def training_device() -> str:
    """Names the device Keras will train on: the first GPU TensorFlow sees, else the CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({gpus[0].name}, {details.get('device_name', 'unknown model')})"
    return "CPU (TensorFlow sees no GPU)"


def _dataset(
    file_pattern: List[str],
    data_accessor: tfx.components.DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    hparams: HParams,
    shuffle: bool,
) -> tf.data.Dataset:
    """One pass over transformed examples as ``(features, label)`` batches."""
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=hparams.batch_size,
            label_key=features.LABEL_KEY,
            num_epochs=1,
            shuffle=shuffle,
            shuffle_buffer_size=SHUFFLE_BUFFER_RECORDS,
            shuffle_seed=hparams.seed,
        ),
        tf_transform_output.transformed_metadata.schema,
    ).prefetch(tf.data.AUTOTUNE)


class _ServingModule(tf.Module):
    """The model's weights, its transform graph and the two serving signatures.

    The module tracks the Keras model's variables (as ``model.variables``), not the Keras model,
    so the export holds neither the optimizer's slots nor Keras' own description of the model.
    Nothing loads the export as a Keras model: TF Serving, TFMA and ``pipeline.py predict`` call
    its signatures; warm start and the projector read its variables.
    """

    def __init__(self, model: keras.Model, tf_transform_output: tft.TFTransformOutput):
        super().__init__(name="review_sentiment_serving")
        self.model = tf.train.Checkpoint(variables=list(model.variables))
        self.tft_layer = tf_transform_output.transform_features_layer()
        raw_spec = tf_transform_output.raw_feature_spec()
        text_spec = {features.RAW_TEXT_KEY: raw_spec[features.RAW_TEXT_KEY]}
        tft_layer = self.tft_layer

        def predict(raw_features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
            transformed = tft_layer(raw_features)
            logit = tf.reshape(model(transformed[features.TOKEN_IDS_KEY]), [-1])
            return {PROBABILITY_OUTPUT: tf.sigmoid(logit), LOGIT_OUTPUT: logit}

        # Traced as written: nothing here branches on a tensor, and autograph's conversion of the
        # Keras model and the transform layer would only add to the export's time. Closures, so
        # that the module does not track the Keras model.
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")], autograph=False)
        def serve_tf_examples(examples):
            return predict(tf.io.parse_example(examples, text_spec))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)
        def predict_text(text):
            return predict({features.RAW_TEXT_KEY: tf.reshape(text, [-1, 1])})

        self.serve_tf_examples, self.predict_text = serve_tf_examples, predict_text


def export_serving_model(model: keras.Model, tf_transform_output: tft.TFTransformOutput, export_dir: str) -> None:
    """Saves the model's weights, its transform graph and both signatures with tf.saved_model.save.

    Without Keras' traces: the transform graph's ``TransformFeaturesLayer`` is a Keras model, and
    for it ``tf.saved_model.save`` would also trace a Keras call function, autograph converting the
    layer's code first. Exports of the default preset on 2 cores: 7.7 s with the Keras model tracked
    and traced, 5.2 s with its weights only, 0.6 s without traces. The signatures above are traced
    anyway; Keras' traces only serve ``keras.models.load_model``.
    """
    module = _ServingModule(model, tf_transform_output)
    # tf_keras' own switch (what `save_traces=False` sets in keras.models.save_model), for a root
    # that is not a Keras model.
    with keras_saved_model_utils.keras_option_scope(save_traces=False):
        tf.saved_model.save(
            module,
            export_dir,
            signatures={
                SERVING_SIGNATURE: module.serve_tf_examples.get_concrete_function(),
                PREDICT_TEXT_SIGNATURE: module.predict_text.get_concrete_function(),
            },
        )


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains on the transformed train split, validates on eval each epoch, exports.

    Args:
      fn_args: TFX Trainer arguments; ``custom_config`` holds the ``HParams`` dict.
    """
    hparams = HParams.from_dict(fn_args.custom_config)
    keras.utils.set_random_seed(hparams.seed)
    device = training_device()
    _PROGRESS.info("Trainer: training on %s", device)

    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train_data = _dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, hparams, shuffle=True)
    eval_data = _dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, hparams, shuffle=False)

    rows = preprocessing.embedding_rows(tf_transform_output, hparams)
    model = model_lib.build_model(rows, hparams)
    model.summary(print_fn=logging.info)
    tokens = warm_start.row_tokens(
        [t.decode("utf-8", "replace") for t in tf_transform_output.vocabulary_by_name(features.VOCABULARY_NAME)],
        hparams.num_oov_buckets)
    # The pipeline gives a base model (the latest blessed one) only when it asks for a warm start.
    started_from = warm_start.carry_over(model, tokens, fn_args.base_model, hparams.hashed_ngram_rows)
    _PROGRESS.info("Trainer: %s", started_from.describe())

    history = model.fit(
        train_data,
        validation_data=eval_data,
        epochs=hparams.epochs,
        callbacks=[
            keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"),
            *model_lib.training_callbacks(hparams),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: _log_epoch(epoch, hparams.epochs, logs)),
        ],
        verbose=0,
    )
    _write_training_summary(fn_args.model_run_dir, hparams, device, rows, history.history, started_from)
    export_serving_model(model, tf_transform_output, fn_args.serving_model_dir)
    warm_start.save_row_tokens(fn_args.serving_model_dir, tokens, hparams.hashed_ngram_rows)


def _log_epoch(epoch: int, epochs: int, logs: Dict[str, float]) -> None:
    _PROGRESS.info(
        "Trainer: epoch %d/%d  loss %.4f  accuracy %.4f  eval loss %.4f  eval accuracy %.4f",
        epoch + 1, epochs, logs.get("loss", float("nan")), logs.get("accuracy", float("nan")),
        logs.get("val_loss", float("nan")), logs.get("val_accuracy", float("nan")),
    )


def _write_training_summary(
    model_run_dir: str, hparams: HParams, device: str, rows: int, history: Dict[str, List[float]],
    started_from: warm_start.WarmStart,
) -> None:
    val_accuracy = history.get("val_accuracy", [])
    # Early stopping restores the best epoch's weights; otherwise the last epoch's are exported.
    if hparams.early_stopping_patience and val_accuracy:
        exported_epoch = max(range(len(val_accuracy)), key=lambda epoch: (val_accuracy[epoch], -epoch))
    else:
        exported_epoch = len(val_accuracy) - 1
    summary: Dict[str, Any] = {
        "device": device,
        "epochs_run": len(val_accuracy),
        "exported_epoch": exported_epoch + 1,
        "eval_accuracy": float(val_accuracy[exported_epoch]) if val_accuracy else None,
        "eval_loss": float(history["val_loss"][exported_epoch]) if val_accuracy else None,
        "embedding_rows": rows,
        "warm_start": dataclasses.asdict(started_from),
        "hparams": hparams.to_dict(),
        "history": {name: [float(v) for v in values] for name, values in history.items()},
    }
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, TRAINING_SUMMARY_FILE), "w") as f:
        json.dump(summary, f, indent=2)

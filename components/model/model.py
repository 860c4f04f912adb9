"""The embedding classifier of the seed tutorial, in Keras 2 (tf-keras).

tf.Transform's TransformFeaturesLayer is a Keras 2 layer, so the model is built
with ``tf_keras`` explicitly rather than whatever ``tf.keras`` resolves to.
"""

import math

import tensorflow as tf
import tf_keras as keras

from components.model import features
from components.model.hparams import HParams


def build_model(embedding_rows: int, hparams: HParams) -> keras.Model:
    """Embedding -> GlobalAveragePooling1D [-> Dropout] [-> Dense(relu)] -> Dense(1) logit.

    The seed tutorial's model with ``HParams()``; the options the tutorial leaves
    out (masking, dropout, no hidden layer) come from ``hparams``.

    Args:
      embedding_rows: Rows of the embedding table (padding, OOV and vocabulary).
      hparams: Sequence length, widths, regularisation and learning rate.

    Returns:
      A compiled model taking ``token_ids`` (int64 ``[batch, token_ids_length]``)
      and returning one logit per review.
    """
    token_ids = keras.Input(shape=(hparams.token_ids_length,), dtype=tf.int64, name=features.TOKEN_IDS_KEY)
    embedded = keras.layers.Embedding(
        embedding_rows,
        hparams.embedding_dim,
        # With a mask, the average below covers the review's tokens only, not its padding.
        mask_zero=hparams.mask_padding,
        name=features.EMBEDDING_LAYER_NAME,
    )(token_ids)
    representation = keras.layers.GlobalAveragePooling1D(name="average")(embedded)
    if hparams.dropout:
        representation = keras.layers.Dropout(hparams.dropout, name="dropout")(representation)
    if hparams.hidden_units:
        representation = keras.layers.Dense(hparams.hidden_units, activation="relu", name="hidden")(representation)
    logit = keras.layers.Dense(1, name="logit")(representation)
    model = keras.Model(inputs=token_ids, outputs=logit, name="review_sentiment")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hparams.learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        # The tutorial's metrics=['accuracy'] thresholds logits at 0.5, i.e. p > 0.62;
        # a logit's decision boundary is 0.
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
    )
    return model


def training_callbacks(hparams: HParams) -> list:
    """The learning-rate schedule and early stopping that ``hparams`` asks for."""
    callbacks = []
    if hparams.learning_rate_schedule == "cosine":
        callbacks.append(
            keras.callbacks.LearningRateScheduler(
                lambda epoch: hparams.learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / hparams.epochs))
            )
        )
    if hparams.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy",
                mode="max",
                patience=hparams.early_stopping_patience,
                restore_best_weights=True,
            )
        )
    return callbacks

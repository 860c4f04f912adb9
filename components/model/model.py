"""The embedding classifier of the seed tutorial, in Keras 2 (tf-keras).

tf.Transform's TransformFeaturesLayer is a Keras 2 layer, so the model is built
with ``tf_keras`` explicitly rather than whatever ``tf.keras`` resolves to.
"""

import tensorflow as tf
import tf_keras as keras

from components.model import features
from components.model.hparams import HParams


def build_model(embedding_rows: int, hparams: HParams) -> keras.Model:
    """Embedding -> GlobalAveragePooling1D -> Dense(relu) -> Dense(1) logit.

    Args:
      embedding_rows: Rows of the embedding table (padding, OOV and vocabulary).
      hparams: Sequence length, widths and learning rate.

    Returns:
      A compiled model taking ``token_ids`` (int64 ``[batch, sequence_length]``)
      and returning one logit per review.
    """
    token_ids = keras.Input(shape=(hparams.sequence_length,), dtype=tf.int64, name=features.TOKEN_IDS_KEY)
    embedded = keras.layers.Embedding(
        embedding_rows, hparams.embedding_dim, name=features.EMBEDDING_LAYER_NAME
    )(token_ids)
    pooled = keras.layers.GlobalAveragePooling1D(name="average")(embedded)
    hidden = keras.layers.Dense(hparams.hidden_units, activation="relu", name="hidden")(pooled)
    logit = keras.layers.Dense(1, name="logit")(hidden)
    model = keras.Model(inputs=token_ids, outputs=logit, name="review_sentiment")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hparams.learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        # The tutorial's metrics=['accuracy'] thresholds logits at 0.5, i.e. p > 0.62;
        # a logit's decision boundary is 0.
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
    )
    return model

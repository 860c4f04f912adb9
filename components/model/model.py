"""The embedding classifier of the seed tutorial, in Keras 2 (tf-keras).

tf.Transform's TransformFeaturesLayer is a Keras 2 layer, so the model is built
with ``tf_keras`` explicitly rather than whatever ``tf.keras`` resolves to.
"""

import math

import tensorflow as tf
import tf_keras as keras

from components.model import features
from components.model.hparams import HParams


@keras.utils.register_keras_serializable(package="imdb_embeddings")
class MeanEmbedding(keras.layers.Layer):
    """The mean of the embedding rows of each review's ids, given as an int64 ``SparseTensor``.

    What ``Embedding`` then ``GlobalAveragePooling1D`` compute with the padding masked,
    without a padded width: a review costs its own ids. Its table is ``embeddings``, as
    ``Embedding``'s, so warm start and the projector read either the same way. A review
    without ids averages to zeros.
    """

    def __init__(self, input_dim: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.input_dim, self.output_dim), initializer="uniform", trainable=True)
        super().build(input_shape)

    def call(self, ids: tf.SparseTensor) -> tf.Tensor:
        rows = tf.gather(self.embeddings, ids.values)
        reviews = tf.shape(ids, out_type=tf.int64)[0]
        return tf.math.unsorted_segment_mean(rows, ids.indices[:, 0], reviews)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim}


@keras.utils.register_keras_serializable(package="imdb_embeddings")
class LazyAdam(keras.optimizers.Adam):
    """Adam that updates, for a sparse gradient (the embedding table's), only the rows the batch touched.

    Keras' Adam decays both moments of every row at every step and moves every row by its momentum,
    so a step costs the whole table (200,000 rows) although a batch touches a few thousand. Here a
    row, its moments included, waits until a batch touches it, as TF Addons' ``LazyAdam`` does; a
    dense gradient gets Adam's update. The rows a batch touches once each (Keras sums duplicates
    first), ``amsgrad`` is not supported.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("LazyAdam does not support amsgrad")

    def update_step(self, gradient, variable):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        beta_2_power = tf.pow(beta_2, step)
        alpha = tf.cast(self.learning_rate, dtype) * tf.sqrt(1 - beta_2_power) / (1 - tf.pow(beta_1, step))
        epsilon = self.epsilon * tf.sqrt(1 - beta_2_power) if self.adaptive_epsilon else self.epsilon
        index = self._index_dict[self._var_key(variable)]
        m, v = self._momentums[index], self._velocities[index]
        rows = gradient.indices
        m_rows = beta_1 * tf.gather(m, rows) + (1 - beta_1) * gradient.values
        v_rows = beta_2 * tf.gather(v, rows) + (1 - beta_2) * tf.square(gradient.values)
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        variable.scatter_sub(tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + epsilon), rows))
        return None


@keras.utils.register_keras_serializable(package="imdb_embeddings")
class ReviewClassifier(keras.Model):
    """A functional Keras model whose training and evaluation steps are traced as written, without autograph.

    Autograph rewrites every Python function a ``tf.function`` calls. Keras' own ``train_step``
    and ``test_step`` need none of it (their branches are on Python values), and converting
    them and all they call cost about 30 s of the Trainer's first epoch on 2 cores.
    """

    train_step = tf.autograph.experimental.do_not_convert(keras.Model.train_step)
    test_step = tf.autograph.experimental.do_not_convert(keras.Model.test_step)
    predict_step = tf.autograph.experimental.do_not_convert(keras.Model.predict_step)


def build_model(embedding_rows: int, hparams: HParams) -> keras.Model:
    """Embedding -> average [-> Dropout] [-> Dense(relu)] -> Dense(1) logit.

    The seed tutorial's model with ``HParams()``: ``Embedding`` over padded ids, then
    ``GlobalAveragePooling1D``. With ``ragged_ids`` a ``MeanEmbedding`` averages each
    review's own ids instead. The options the tutorial leaves out (masking, dropout, no
    hidden layer) come from ``hparams``.

    Args:
      embedding_rows: Rows of the embedding table (padding, OOV, vocabulary and n-gram buckets).
      hparams: Sequence length, widths, regularisation and learning rate.

    Returns:
      A compiled model taking ``token_ids`` (int64 ``[batch, token_ids_length]``, or a
      ``SparseTensor`` with ``ragged_ids``) and returning one logit per review.
    """
    if hparams.ragged_ids:
        token_ids = keras.Input(shape=(None,), sparse=True, dtype=tf.int64, name=features.TOKEN_IDS_KEY)
        representation = MeanEmbedding(embedding_rows, hparams.embedding_dim,
                                       name=features.EMBEDDING_LAYER_NAME)(token_ids)
    else:
        token_ids = keras.Input(shape=(hparams.token_ids_length,), dtype=tf.int64, name=features.TOKEN_IDS_KEY)
        embedded = keras.layers.Embedding(
            embedding_rows,
            hparams.embedding_dim,
            # With a mask, the average below covers the review's tokens only, not its padding.
            mask_zero=hparams.mask_padding,
            name=features.EMBEDDING_LAYER_NAME,
        )(token_ids)
        representation = keras.layers.GlobalAveragePooling1D(name=features.AVERAGE_LAYER_NAME)(embedded)
    if hparams.dropout:
        representation = keras.layers.Dropout(hparams.dropout, name=features.DROPOUT_LAYER_NAME)(representation)
    if hparams.hidden_units:
        representation = keras.layers.Dense(hparams.hidden_units, activation="relu",
                                            name=features.HIDDEN_LAYER_NAME)(representation)
    logit = keras.layers.Dense(1, name=features.LOGIT_LAYER_NAME)(representation)
    model = ReviewClassifier(inputs=token_ids, outputs=logit, name="review_sentiment")
    model.compile(
        optimizer=(LazyAdam if hparams.lazy_adam else keras.optimizers.Adam)(learning_rate=hparams.learning_rate),
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

"""The model builder and the Trainer's export, without a pipeline."""

import numpy as np
import tensorflow as tf

from components.model import features, model as model_lib, trainer
from components.model.hparams import PRESETS, HParams


def test_tutorial_preset_is_the_seed_model():
    hparams = PRESETS["tutorial"]
    assert (hparams.vocab_size, hparams.sequence_length, hparams.embedding_dim) == (10000, 100, 16)
    assert (hparams.epochs, hparams.batch_size, hparams.learning_rate) == (15, 1024, 0.001)
    model = model_lib.build_model(hparams.vocab_size, hparams)
    # The seed's summary: Embedding 160,000; Dense(16) 272; Dense(1) 17.
    assert [layer.count_params() for layer in model.layers if layer.count_params()] == [160000, 272, 17]
    assert model.get_layer(features.EMBEDDING_LAYER_NAME).input_dim == 10000
    assert model.output_shape == (None, 1)
    assert model.loss.get_config()["from_logits"]


def test_model_learns_a_token_signal():
    hparams = HParams(vocab_size=12, sequence_length=5, epochs=1, learning_rate=0.05)
    model = model_lib.build_model(hparams.vocab_size, hparams)
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 12, size=(512, 5))
    labels = (ids == 3).any(axis=1) | (ids == 4).any(axis=1)
    model.fit(ids, labels.astype(np.float32), epochs=30, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(ids, labels.astype(np.float32), verbose=0)
    assert accuracy > 0.9


def test_training_device_names_cpu_or_gpu():
    device = trainer.training_device()
    if tf.config.list_physical_devices("GPU"):
        assert device.startswith("GPU")
    else:
        assert device.startswith("CPU")

"""The model builder and the Trainer's export, without a pipeline."""

import os
import shutil
import types

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_transform.tf_metadata import schema_utils
from tfx.components.trainer import fn_args_utils
from tfx.components.util import tfxio_utils
from tfx.types import standard_artifacts

from components.model import features, model as model_lib, trainer, warm_start
from components.model.hparams import PRESETS, HParams
from tests.transform_output import analyze_and_transform


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


def test_training_device_names_the_first_gpu_or_the_cpu(monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda device_type=None: [])
    assert trainer.training_device() == "CPU (TensorFlow sees no GPU)"
    gpus = [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(2)]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda device_type=None: gpus)
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda device: {"device_name": f"NVIDIA H200 #{device.name[-1]}"})
    assert trainer.training_device() == "GPU (/physical_device:GPU:0, NVIDIA H200 #0)"


def test_masking_makes_the_prediction_independent_of_padding():
    hparams = HParams(vocab_size=10, sequence_length=6, mask_padding=True, hidden_units=0, dropout=0.2)
    model = model_lib.build_model(hparams.vocab_size, hparams)
    short = np.array([[3, 4, 0, 0, 0, 0]])
    embedding = model.get_layer(features.EMBEDDING_LAYER_NAME).get_weights()[0]
    logit_layer = model.get_layer("logit")
    kernel, bias = logit_layer.get_weights()
    expected = embedding[[3, 4]].mean(axis=0) @ kernel + bias
    np.testing.assert_allclose(model(short, training=False).numpy()[0], expected, rtol=1e-5)

    unmasked = model_lib.build_model(10, HParams(vocab_size=10, sequence_length=6, hidden_units=0))
    unmasked.set_weights(model.get_weights())
    assert not np.allclose(unmasked(short).numpy(), model(short, training=False).numpy())


def test_ragged_ids_average_each_reviews_own_rows_as_masking_does():
    hparams = HParams(vocab_size=10, sequence_length=6, ragged_ids=True, hidden_units=0, dropout=0.2)
    model = model_lib.build_model(12, hparams)
    # Three reviews: rows 3 and 4; row 5 twice (a repeat counts twice); no row at all.
    ids = tf.sparse.SparseTensor(indices=[[0, 0], [0, 1], [1, 0], [1, 1]], values=tf.constant([3, 4, 5, 5], tf.int64),
                                 dense_shape=[3, 2])
    table = model.get_layer(features.EMBEDDING_LAYER_NAME).get_weights()[0]
    assert table.shape == (12, 16)
    kernel, bias = model.get_layer("logit").get_weights()
    expected = np.stack([table[[3, 4]].mean(axis=0), table[5], np.zeros(16)]) @ kernel + bias
    np.testing.assert_allclose(model(ids, training=False).numpy(), expected, rtol=1e-5)

    # The same reviews padded, through the tutorial's layers with the padding masked: the same logits.
    masked = model_lib.build_model(12, HParams(vocab_size=10, sequence_length=2, mask_padding=True, hidden_units=0))
    masked.set_weights(model.get_weights())
    np.testing.assert_allclose(masked(np.array([[3, 4], [5, 5]])).numpy(), expected[:2], rtol=1e-5)
    assert model.get_layer(features.EMBEDDING_LAYER_NAME).weights[0].name == "embedding/embeddings:0"


def test_fasttext_preset_has_no_hidden_layer_and_takes_trigrams():
    hparams = PRESETS["fasttext"]
    model = model_lib.build_model(1000, hparams)
    assert hparams.ngram_size == 3 and hparams.ragged_ids
    assert model.input_shape == (None, None)
    assert [layer.name for layer in model.layers] == ["token_ids", "embedding", "dropout", "logit"]


def test_cosine_schedule_and_early_stopping_callbacks():
    hparams = HParams(epochs=4, learning_rate=0.01, learning_rate_schedule="cosine", early_stopping_patience=1)
    schedule, stopping = model_lib.training_callbacks(hparams)
    rates = [schedule.schedule(epoch) for epoch in range(4)]
    np.testing.assert_allclose(rates, [0.01, 0.01 * 0.5 * (1 + np.cos(np.pi / 4)), 0.005, 0.01 * 0.5 * (1 + np.cos(3 * np.pi / 4))])
    assert stopping.monitor == "val_accuracy" and stopping.restore_best_weights
    assert model_lib.training_callbacks(HParams()) == []


def test_the_train_input_mixes_labels_of_a_split_written_label_by_label(tmp_path):
    # As the ExampleGen writes a split: every negative review, then every positive one; more of
    # each than TFX's default shuffle buffer (10,000 records) holds.
    per_label = 12_000
    path = str(tmp_path / "Split-train" / "data.gz")
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for label in (0, 1):
            record = tf.train.Example(features=tf.train.Features(feature={
                features.TOKEN_IDS_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[2])),
                features.LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            })).SerializeToString()
            for _ in range(per_label):
                writer.write(record)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path)
    accessor = fn_args_utils.DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=None, data_view_decode_fn=None)
    spec = {features.TOKEN_IDS_KEY: tf.io.FixedLenFeature([1], tf.int64),
            features.LABEL_KEY: tf.io.FixedLenFeature([1], tf.int64)}
    transform_output = types.SimpleNamespace(
        transformed_metadata=types.SimpleNamespace(schema=schema_utils.schema_from_feature_spec(spec)))
    data = trainer._dataset([path], accessor, transform_output, HParams(batch_size=1000), shuffle=True)  # pylint: disable=protected-access
    _, first_labels = next(iter(data))
    # Drawn from the whole split, a batch is about half positive; from a 10,000 buffer, all negative.
    assert 0.4 < float(tf.reduce_mean(tf.cast(first_labels, tf.float32))) < 0.6


def test_lazy_adam_moves_only_the_rows_a_batch_touches():
    from components.model.model import LazyAdam

    table = tf.Variable(tf.ones([3, 1]))
    optimizer = LazyAdam(learning_rate=0.1)
    optimizer.apply_gradients([(tf.IndexedSlices(tf.constant([[1.0]]), tf.constant([0]), tf.constant([3, 1])), table)])
    # Step 1 is Adam's: m = 0.1, v = 0.001, alpha = 0.1 * sqrt(0.001) / 0.1, so row 0 moves by 0.1.
    np.testing.assert_allclose(table.numpy()[:, 0], [0.9, 1.0, 1.0], rtol=1e-5)
    optimizer.apply_gradients([(tf.IndexedSlices(tf.constant([[1.0]]), tf.constant([1]), tf.constant([3, 1])), table)])
    # Step 2 touches row 1 only: row 0 stays (Adam would move it on by its momentum, to 0.8330) and row 1
    # moves by alpha_2 * 0.1 / sqrt(0.001), alpha_2 = 0.1 * sqrt(1 - 0.999^2) / (1 - 0.9^2).
    np.testing.assert_allclose(table.numpy()[:, 0], [0.9, 0.925586, 1.0], rtol=1e-5)
    # A dense gradient gets Adam's update.
    dense = tf.Variable([1.0])
    LazyAdam(learning_rate=0.1).apply_gradients([(tf.constant([1.0]), dense)])
    np.testing.assert_allclose(dense.numpy(), [0.9], rtol=1e-5)


def test_the_export_serves_both_signatures_and_holds_the_weights_alone(tmp_path):
    rows = [{"text": [b"a good film"], "label": [1]}, {"text": [b"a bad film"], "label": [0]}]
    hparams = HParams(vocab_size=10, sequence_length=4, embedding_dim=3, ragged_ids=True, dropout=0.5)
    _, transform_output = analyze_and_transform(rows, hparams, tmp_path)
    model = model_lib.build_model(hparams.vocab_size, hparams)
    ids = tf.sparse.from_dense(tf.constant([[5, 7, 0]], tf.int64))
    model.train_on_batch(ids, tf.constant([[1.0]]))  # the optimizer makes its slots, as in fit
    export_dir = str(tmp_path / "serving")
    trainer.export_serving_model(model, transform_output, export_dir)

    texts = ["A good film!", "bad, bad film", "unheard words"]
    transformed = transform_output.transform_features_layer()({"text": tf.constant([[t] for t in texts])})
    expected = tf.sigmoid(tf.reshape(model(transformed[features.TOKEN_IDS_KEY]), [-1])).numpy()
    # The export carries its transform graph and vocabulary: it serves without the Transform's output.
    shutil.rmtree(tmp_path / "transform_output")
    loaded = tf.saved_model.load(export_dir)
    by_text = loaded.signatures[trainer.PREDICT_TEXT_SIGNATURE](text=tf.constant(texts))
    examples = [tf.train.Example(features=tf.train.Features(feature={"text": tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[t.encode()]))})).SerializeToString() for t in texts]
    by_example = loaded.signatures[trainer.SERVING_SIGNATURE](examples=tf.constant(examples))
    np.testing.assert_allclose(by_text[trainer.PROBABILITY_OUTPUT].numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(by_example[trainer.PROBABILITY_OUTPUT].numpy(), expected, rtol=1e-6)

    # The model's weights, by their Keras names, and no optimizer slot.
    variables = warm_start.load_model_variables(export_dir)
    assert sorted(variables) == ["embedding/embeddings:0", "hidden/bias:0", "hidden/kernel:0", "logit/bias:0",
                                 "logit/kernel:0"]
    np.testing.assert_array_equal(variables["embedding/embeddings:0"],
                                  model.get_layer(features.EMBEDDING_LAYER_NAME).get_weights()[0])
    checkpoint_keys = [name for name, _ in tf.train.list_variables(os.path.join(export_dir, "variables", "variables"))]
    assert not [name for name in checkpoint_keys if "OPTIMIZER_SLOT" in name or "optimizer" in name]
    # No Keras traces: tf_keras names a traced layer call "...call_and_return_conditional_losses...".
    saved = saved_model_pb2.SavedModel.FromString(tf.io.gfile.GFile(os.path.join(export_dir, "saved_model.pb"), "rb").read())
    functions = [f.signature.name for f in saved.meta_graphs[0].graph_def.library.function]
    assert not [name for name in functions if "call_and_return_conditional_losses" in name]

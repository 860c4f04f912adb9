"""The projector writer (alignment, escaping, TensorBoard files) and the exporter's executor."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tensorboard.plugins import projector as tb_projector
from google.protobuf import text_format
from tfx.types import standard_artifacts

from components.model import warm_start
from components.projector import executor, projector
from components.artifacts import DIMENSION_PROPERTY, ROWS_PROPERTY, EmbeddingProjectorFiles
from components.projector.component import ProjectorExporter


def _read_tsv_rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read().split("\n")[:-1]


def test_escape_label_keeps_one_row_per_token():
    assert projector.escape_label("plain") == "plain"
    assert projector.escape_label("a\tb\nc\\d\re") == "a\\tb\\nc\\\\d\\re"
    assert projector.escape_label("x\u2028y\x85z") == "x\\u2028y\\u0085z"
    assert projector.escape_label("") == projector.EMPTY_LABEL
    assert projector.escape_label("café 映画 🎬") == "café 映画 🎬"


def test_rows_stay_aligned_whatever_the_tokens(tmp_path):
    labels = ["tab\there", "new\nline", "back\\slash", "line\u2028sep", "", "ok", "映画"]
    vectors = np.arange(len(labels) * 3, dtype=np.float32).reshape(len(labels), 3) / 7
    written = projector.write_projector_files(str(tmp_path), vectors, labels)
    assert (written.rows, written.dimension) == (7, 3)

    metadata = _read_tsv_rows(tmp_path / projector.METADATA_FILE)
    vector_rows = _read_tsv_rows(tmp_path / projector.VECTORS_FILE)
    assert len(metadata) == len(vector_rows) == len(labels)
    assert metadata[5] == "ok" and metadata[6] == "映画"
    assert all("\t" not in row for row in metadata)
    assert len("\n".join(metadata).splitlines()) == len(labels)
    parsed = np.array([[float(x) for x in row.split("\t")] for row in vector_rows])
    np.testing.assert_allclose(parsed, vectors, rtol=1e-6)


def test_projector_config_names_the_table_and_points_at_its_files(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    projector.write_projector_files(str(tmp_path), vectors, ["a", "b", "c", "d"], {"kind": ["word"] * 4})
    projector.write_projector_files(str(tmp_path / "other"), vectors, ["a", "b", "c", "d"], {"count": [4, 3, 2, 1]},
                                   table_name="word2vec")
    config = text_format.Parse(
        (tmp_path / projector.PROJECTOR_CONFIG_FILE).read_text(), tb_projector.ProjectorConfig()
    )
    (embedding,) = config.embeddings
    # The name the Projector's menu shows; relative paths, so the folder can move.
    assert (embedding.tensor_name, embedding.tensor_path, embedding.metadata_path) == (
        "classifier", "vectors.tsv", "metadata.tsv")
    other = text_format.Parse(
        (tmp_path / "other" / projector.PROJECTOR_CONFIG_FILE).read_text(), tb_projector.ProjectorConfig())
    assert [e.tensor_name for e in other.embeddings] == ["word2vec"]
    # No checkpoint: TensorBoard would list its tensors as further tables named by checkpoint keys.
    assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_export_embedding_drops_padding_and_checks_row_count(tmp_path):
    table = np.arange(12, dtype=np.float32).reshape(6, 2)
    written = projector.export_embedding(str(tmp_path), table, ["the", "cat", "sat", "ran"], ["[UNK]"])
    assert written.rows == 5
    assert projector.read_metadata_labels(str(tmp_path / projector.METADATA_FILE)) == ["[UNK]", "the", "cat", "sat", "ran"]
    assert _read_tsv_rows(tmp_path / projector.VECTORS_FILE)[0] == "2\t3"
    with pytest.raises(ValueError, match="do not come from the same run"):
        projector.export_embedding(str(tmp_path / "bad"), table, ["the"], ["[UNK]"])


def test_metadata_columns_have_a_header_and_one_value_per_row(tmp_path):
    vectors = np.zeros((5, 2), np.float32)
    labels = ["[UNK]", "good", "very good", "tab\there", "not very good"]
    columns = {"kind": projector.token_kinds(labels, oov_rows=1), "train_count": [3, 120, 7, 1, 2],
               "polarity": [0.0, 1.23456, 0.5, -2.0, -0.25]}
    projector.write_projector_files(str(tmp_path), vectors, labels, columns)
    assert _read_tsv_rows(tmp_path / projector.METADATA_FILE) == [
        "token\tkind\ttrain_count\tpolarity",
        "[UNK]\toov\t3\t0", "good\tword\t120\t1.235", "very good\tbigram\t7\t0.5", "tab\\there\tword\t1\t-2",
        "not very good\ttrigram\t2\t-0.25"]
    assert projector.read_metadata_labels(str(tmp_path / projector.METADATA_FILE)) == [
        "[UNK]", "good", "very good", "tab\\there", "not very good"]
    with pytest.raises(ValueError, match="metadata column 'kind' has 1 values for 5 rows"):
        projector.write_projector_files(str(tmp_path / "bad"), vectors, labels, {"kind": ["word"]})


def test_polarity_is_the_heads_logit_for_one_token():
    rows = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    hidden = (np.array([[1.0, -1.0], [0.0, 2.0]]), np.array([0.0, 0.5]), True)
    logit = (np.array([[2.0], [-1.0]]), np.array([0.25]), False)
    # Row 1: relu([1, -1] + [0, .5]) = [1, 0] -> 2 + .25; row 2: relu([0, 2.5]) -> -2.5 + .25;
    # row 3: relu([-1, -1] + [0, .5]) = [0, 0] -> .25 (the bias alone).
    np.testing.assert_allclose(projector.token_polarity(rows, [hidden, logit]), [2.25, -2.25, 0.25])
    np.testing.assert_allclose(projector.token_polarity(rows, [logit]), [2.25, -0.75, -0.75])


def test_nearest_neighbours_by_cosine():
    labels = ["good", "great", "bad", "awful", "zero"]
    vectors = np.array([[1, 0.1], [2, 0.3], [-1, 0.1], [-3, -0.2], [0, 0]], dtype=np.float32)
    result = projector.nearest_neighbours(vectors, labels, ["good", "awful", "absent"], count=2)
    assert [label for label, _ in result["good"]] == ["great", "zero"]
    assert result["good"][0][1] == pytest.approx(0.99, abs=0.01)
    assert [label for label, _ in result["awful"]] == ["bad", "zero"]
    assert "absent" not in result


def _saved_model_with_embedding(path, rows=6, dim=3):
    token_ids = keras.Input(shape=(4,), dtype=tf.int64)
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(rows, dim, name="embedding")(token_ids))
    model = keras.Model(token_ids, keras.layers.Dense(1)(pooled))
    module = tf.Module()
    module.model = model
    tf.saved_model.save(module, path)
    return model.get_layer("embedding").get_weights()[0]


def test_embedding_table_by_layer_name(tmp_path):
    path = str(tmp_path / "model")
    expected = _saved_model_with_embedding(path)
    variables = warm_start.load_model_variables(path)
    np.testing.assert_array_equal(projector.embedding_table(variables, "embedding", path), expected)
    with pytest.raises(ValueError, match="no embedding layer named 'words'"):
        projector.embedding_table(variables, "words", path)


def test_executor_writes_artifact_and_properties(tmp_path, monkeypatch):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    table = _saved_model_with_embedding(os.path.join(model.uri, "Format-Serving"))
    transform_graph = standard_artifacts.TransformGraph()
    transform_graph.uri = str(tmp_path / "transform")

    class FakeTransformOutput:
        def __init__(self, uri):
            assert uri == transform_graph.uri

        def vocabulary_by_name(self, name):
            return [b"the", b"film", b"caf\xc3\xa9", b"good"]

    monkeypatch.setattr(executor.tft, "TFTransformOutput", FakeTransformOutput)
    output = EmbeddingProjectorFiles()
    output.uri = str(tmp_path / "projector")
    executor.Executor().Do(
        {executor.MODEL_KEY: [model], executor.TRANSFORM_GRAPH_KEY: [transform_graph]},
        {executor.PROJECTOR_KEY: [output]},
        {executor.EMBEDDING_LAYER_KEY: "embedding", executor.NUM_OOV_BUCKETS_KEY: 1,
         executor.PROBE_WORDS_KEY: json.dumps(["film"])},
    )
    assert (output.get_int_custom_property(ROWS_PROPERTY),
            output.get_int_custom_property(DIMENSION_PROPERTY)) == (5, 3)
    # No transformed examples and no `logit` layer in this model: the kind is the only column.
    assert _read_tsv_rows(os.path.join(output.uri, projector.METADATA_FILE)) == [
        "token\tkind", "[UNK]\toov", "the\tword", "film\tword", "café\tword", "good\tword"]
    assert projector.read_metadata_labels(os.path.join(output.uri, projector.METADATA_FILE)) == [
        "[UNK]", "the", "film", "café", "good"]
    vectors = np.loadtxt(os.path.join(output.uri, projector.VECTORS_FILE), delimiter="\t")
    np.testing.assert_allclose(vectors, table[1:], rtol=1e-6)
    with open(os.path.join(output.uri, projector.NEIGHBOURS_FILE)) as f:
        assert len(json.load(f)["film"]) == 4


def test_component_spec_wires_channels():
    from tfx import types

    component = ProjectorExporter(
        model=types.Channel(type=standard_artifacts.Model),
        transform_graph=types.Channel(type=standard_artifacts.TransformGraph),
        num_oov_buckets=2,
        probe_words=["good"],
    )
    assert component.outputs[executor.PROJECTOR_KEY].type is EmbeddingProjectorFiles
    assert component.exec_properties[executor.NUM_OOV_BUCKETS_KEY] == 2
    assert json.loads(component.exec_properties[executor.PROBE_WORDS_KEY]) == ["good"]


def test_artifact_type_is_importable_by_its_type_name():
    # TFX's Kubeflow entrypoint rebuilds a custom artifact by importing its KFP schema title.
    from tfx.orchestration.kubeflow.v2 import compiler_utils
    from tfx.utils import import_utils

    title = compiler_utils.get_artifact_schema(EmbeddingProjectorFiles).split("title: ")[1].split("\n")[0]
    assert title == EmbeddingProjectorFiles.TYPE_NAME
    assert import_utils.import_class_by_path(title) is EmbeddingProjectorFiles

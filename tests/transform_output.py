"""The preprocessing_fn through tf.Transform's Beam implementation on a few rows, written as TFX's Transform writes it."""

import os

import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

from components.model import preprocessing

RAW_SPEC = {
    "text": tf.io.FixedLenFeature([1], tf.string),
    "label": tf.io.FixedLenFeature([1], tf.int64),
}


def analyze_and_transform(rows, hparams, tmp_path):
    """The transformed rows and the ``TFTransformOutput``, whose folder also holds the raw schema (``metadata/``)."""
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    output_dir = str(tmp_path / "transform_output")
    with tft_beam.Context(temp_dir=str(tmp_path / "tft_tmp")):
        (transformed, _), transform_fn = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing.preprocessing_fn(inputs, hparams.transform_config())
        )
        _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    metadata_io.write_metadata(metadata, os.path.join(output_dir, tft.TFTransformOutput.RAW_METADATA_DIR))
    return transformed, tft.TFTransformOutput(output_dir)

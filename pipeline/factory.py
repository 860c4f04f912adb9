"""``create_pipeline``: the pipeline's one definition, shared by every runner."""

import os
from typing import List, Optional, Sequence

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.example_gen.component import AclImdbExampleGen
from components.example_gen.executor import EVAL_SPLIT, TRAIN_SPLIT
from components.model.hparams import HParams
from components.projector.component import ProjectorExporter
from components.projector.projector import DEFAULT_PROBE_WORDS

# The raw-data schema kept in the repository (see README.md to regenerate it).
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema", "schema.pbtxt")

PREPROCESSING_FN = "components.model.preprocessing.preprocessing_fn"
RUN_FN = "components.model.trainer.run_fn"


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_dir: str,
    serving_model_dir: str,
    hparams: HParams,
    include_test_split: bool,
    eval_percent: int = 20,
    probe_words: Sequence[str] = DEFAULT_PROBE_WORDS,
    schema_path: str = SCHEMA_PATH,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """Builds the pipeline: aclImdb -> Transform -> Trainer -> projector files and push.

    Args:
      pipeline_name: Name in ML Metadata.
      pipeline_root: Folder (or bucket path) for the artifacts.
      data_dir: The aclImdb dataset root, the folder holding ``train/``.
      serving_model_dir: Where the Pusher writes ``<version>/`` SavedModels.
      hparams: Preprocessing and training settings.
      include_test_split: Whether ``data_dir`` has a ``test/`` folder to read.
      eval_percent: Share of ``train/`` held out as the eval split.
      probe_words: Words whose nearest neighbours the projector component reports.
      schema_path: The raw-data schema imported by ImportSchemaGen.
      metadata_connection_config: ML Metadata connection; the runner's default if None.
      beam_pipeline_args: Arguments of the Beam-based components.
      enable_cache: Whether components reuse earlier results for identical inputs.

    Returns:
      The pipeline, for any TFX runner.
    """
    example_gen = AclImdbExampleGen(
        input_base=data_dir, include_test_split=include_test_split, eval_percent=eval_percent
    )
    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=hparams.transform_config(),
        # The vocabulary comes from the train split alone.
        splits_config=tfx.proto.SplitsConfig(analyze=[TRAIN_SPLIT], transform=[TRAIN_SPLIT, EVAL_SPLIT]),
    )
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[EVAL_SPLIT]),
        custom_config=hparams.to_dict(),
    )
    projector = ProjectorExporter(
        model=trainer.outputs["model"],
        transform_graph=transform.outputs["transform_graph"],
        num_oov_buckets=hparams.num_oov_buckets,
        probe_words=probe_words,
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)
        ),
    )
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[example_gen, schema_gen, transform, trainer, projector, pusher],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )

"""``create_pipeline``: the pipeline's one definition, shared by every runner."""

from typing import List, Optional, Union

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.types import standard_component_specs as specs

from components import served_model as served_model_keys, word2vec as word2vec_keys
from components.example_gen import aclimdb
from components.example_gen.component import AclImdbExampleGen
from components.example_gen import EVAL_SPLIT, TEST_SPLIT, TRAIN_SPLIT, UNSUP_SPLIT
from components.model import features, trainer as trainer_module
from components.model.hparams import EMBEDDING_INIT_WORD2VEC, HParams
from components.packaged_schema import PackagedImportSchemaGen
from components.projector.component import ProjectorExporter
from components.served_model.component import Evaluator, Pusher, ServedModel
from components.validation.anomalies import label_balance_config
from components.validation.component import DataValidationGate, PortableExampleValidator
from components.word2vec import Word2VecSettings
from components.word2vec.component import Word2Vec
from pipeline.definition import nodes
from pipeline.definition.data_shape import DataShape
from pipeline.definition.settings import PipelineSettings, check_beam_args

# The raw-data schema kept in the repository (docs/pipeline.md says how to regenerate it), relative to the installed
# project, so that a compiled spec names the same file inside the pipeline image.
SCHEMA_FILE = "pipeline/definition/schema/schema.pbtxt"

PREPROCESSING_FN = "components.model.preprocessing.preprocessing_fn"
RUN_FN = "components.model.trainer.run_fn"


def make_eval_config(accuracy_floor: float, max_accuracy_drop: float, slice_by_span: bool = False) -> tfma.EvalConfig:
    """TFMA settings: the metrics to report and the two conditions for a blessing.

    Args:
      accuracy_floor: Accuracy a model needs, whatever the baseline.
      max_accuracy_drop: How far (absolute) accuracy may fall below the served
        model's; ignored while no model is served.
      slice_by_span: Also report every span on its own and hold each span to both
        conditions, so that damage to old data cannot hide behind new data.
    """
    accuracy_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_floor}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_accuracy_drop}
        ),
    )
    span_slices = [tfma.SlicingSpec(feature_keys=[aclimdb.SPAN_KEY])] if slice_by_span else []
    # The conditions hold on the whole split and, over spans, on every span's share of it.
    accuracy = tfma.MetricConfig(
        class_name="BinaryAccuracy",
        per_slice_thresholds=[tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec(), *span_slices], threshold=accuracy_threshold)],
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=trainer_module.SERVING_SIGNATURE,
                label_key=features.LABEL_KEY,
                prediction_key=trainer_module.PROBABILITY_OUTPUT,
            )
        ],
        slicing_specs=[tfma.SlicingSpec(), *span_slices],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    accuracy,
                    tfma.MetricConfig(class_name="AUC"),
                    tfma.MetricConfig(class_name="Precision"),
                    tfma.MetricConfig(class_name="Recall"),
                    tfma.MetricConfig(class_name="BinaryCrossentropy", config='"name": "loss"'),
                ],
            )
        ],
    )


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: Union[str, tfx.dsl.experimental.RuntimeParameter],
    serving_model_dir: str,
    hparams: HParams,
    data_shape: DataShape,
    settings: PipelineSettings = PipelineSettings(),
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
    trainer_hparams: Optional[tfx.dsl.experimental.RuntimeParameter] = None,
    warm_start: bool = False,
    word2vec: Word2VecSettings = Word2VecSettings(),
) -> tfx.dsl.Pipeline:
    """Builds the pipeline: aclImdb -> validation -> Transform -> Trainer -> evaluation, push, projector files.

    Pure: it reads no file and takes every decision from its arguments, so that each
    runner (local, Kubeflow) builds the same pipeline. Platform details (a GPU for the
    Trainer and Word2Vec on Kubeflow) are the runner's: ``with_platform_config`` on the
    components it finds by node id.

    Args:
      pipeline_name: Name in ML Metadata.
      pipeline_root: Folder or URI (``gs://``) for the artifacts.
      data_root: The aclImdb dataset root (the folder holding ``train/``), a path or
        URI, or a runtime parameter that holds one.
      serving_model_dir: Where the Pusher writes ``<version>/`` SavedModels; the newest is the served
        model, the Evaluator's baseline and, with ``warm_start``, the Trainer's base model.
      hparams: Preprocessing and training settings.
      data_shape: What ``data_root`` holds (``pipeline.data.describe_data_root``): with
        ``test_split`` the Evaluator judges on ``test/``, else on the eval split; with ``spans``
        the ExampleGen ingests the newest span and reads the window of ``settings.window``
        spans, and the Evaluator holds every span of it to the blessing conditions; with
        ``unsup_split`` and Word2Vec, the ExampleGen reads ``train/unsup/`` into an ``unsup``
        split (which only Word2Vec reads).
      settings: Data split, validation and blessing settings.
      metadata_connection_config: ML Metadata connection; the runner's default if None.
      beam_pipeline_args: Arguments of the Beam-based components.
      enable_cache: Whether components reuse earlier results for identical inputs.
      trainer_hparams: A runtime parameter holding the Trainer's settings as JSON
        (default ``json.dumps(hparams.to_dict())``), so that they can be changed
        when a run is submitted; None compiles ``hparams`` in. Transform always
        uses ``hparams``.
      warm_start: Whether the Trainer starts from the served model.
      word2vec: Whether (``word2vec.word2vec``) and how a Word2Vec component learns word
        vectors from the text of the train, eval and unsup splits, never test.

    Returns:
      The pipeline, for any TFX runner.

    Raises:
      SettingError: When ``hparams`` starts the table from Word2Vec's and the widths differ.
    """
    # The classifier starting from the Word2Vec table needs the Word2Vec step.
    word2vec = word2vec.for_model(hparams)
    example_gen = AclImdbExampleGen(
        input_base=data_root, include_test_split=data_shape.test_split, eval_percent=settings.eval_percent,
        window=settings.window if data_shape.spans else None,
        include_unsup_split=word2vec.word2vec and data_shape.unsup_split,
    ).with_id(nodes.EXAMPLE_GEN)
    schema_gen = PackagedImportSchemaGen(schema_file=SCHEMA_FILE).with_id(nodes.SCHEMA_GEN)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs[specs.EXAMPLES_KEY],
        # Unlabelled reviews have no label, which the schema requires; only Word2Vec reads them.
        exclude_splits=[UNSUP_SPLIT]).with_id(nodes.STATISTICS_GEN)
    example_validator = PortableExampleValidator(
        statistics=statistics_gen.outputs[specs.STATISTICS_KEY],
        schema=schema_gen.outputs[specs.SCHEMA_KEY],
        custom_validation_config=label_balance_config(features.LABEL_KEY, settings.label_balance_bound),
    ).with_id(nodes.EXAMPLE_VALIDATOR)
    data_gate = DataValidationGate(
        anomalies=example_validator.outputs[specs.ANOMALIES_KEY], statistics=statistics_gen.outputs[specs.STATISTICS_KEY]
    ).with_id(nodes.DATA_VALIDATION_GATE)
    transform = tfx.components.Transform(
        examples=example_gen.outputs[specs.EXAMPLES_KEY],
        schema=schema_gen.outputs[specs.SCHEMA_KEY],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=hparams.transform_config(),
        # The vocabulary comes from the train split alone.
        splits_config=tfx.proto.SplitsConfig(analyze=[TRAIN_SPLIT], transform=[TRAIN_SPLIT, EVAL_SPLIT]),
        # StatisticsGen has the raw data's statistics; nothing reads those of the transformed ids.
        disable_statistics=True,
        # No later run is given this run's analyzer cache, and writing it (every vocabulary
        # accumulator as a record) took a third of the default's Transform.
        disable_analyzer_cache=True,
    ).with_id(nodes.TRANSFORM)
    # Nothing is transformed or trained on data with anomalies.
    transform.add_upstream_node(data_gate)
    word2vec_component = None
    if word2vec.word2vec:
        word2vec_component = Word2Vec(
            examples=example_gen.outputs[specs.EXAMPLES_KEY],
            splits=[TRAIN_SPLIT, EVAL_SPLIT, *([UNSUP_SPLIT] if data_shape.unsup_split else [])],
            settings=word2vec.training_config(),
            probe_words=settings.probe_words,
            word_pairs_file=word2vec.word_pairs_file,
            standardization=hparams.standardization,
        ).with_id(nodes.WORD2VEC)
        word2vec_component.add_upstream_node(data_gate)
    # The served model, whose embedding rows the Trainer carries over by token.
    served_model = ServedModel(serving_model_dir=serving_model_dir).with_id(nodes.SERVED_MODEL)
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs[specs.TRANSFORMED_EXAMPLES_KEY],
        transform_graph=transform.outputs[specs.TRANSFORM_GRAPH_KEY],
        schema=schema_gen.outputs[specs.SCHEMA_KEY],
        train_args=tfx.proto.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[EVAL_SPLIT]),
        custom_config=trainer_hparams if trainer_hparams is not None else hparams.to_dict(),
        base_model=_base_model(hparams, warm_start, served_model, word2vec_component),
    ).with_id(nodes.TRAINER)
    projector = ProjectorExporter(
        model=trainer.outputs[specs.MODEL_KEY],
        transform_graph=transform.outputs[specs.TRANSFORM_GRAPH_KEY],
        num_oov_buckets=hparams.num_oov_buckets,
        probe_words=settings.probe_words,
        model_run=trainer.outputs[specs.MODEL_RUN_KEY],
        word_embedding=word2vec_component.outputs[word2vec_keys.WORD_EMBEDDING_KEY] if word2vec_component else None,
        transformed_examples=transform.outputs[specs.TRANSFORMED_EXAMPLES_KEY],
    ).with_id(nodes.PROJECTOR_EXPORTER)
    # Found after the Trainer, leaving the candidate out: a re-run with nothing changed finds the baseline
    # its first run found, so that it is served from the cache and pushes nothing.
    baseline_model = ServedModel(serving_model_dir=serving_model_dir,
                                 candidate=trainer.outputs[specs.MODEL_KEY]).with_id(nodes.BASELINE_MODEL)
    evaluator = Evaluator(
        # Raw examples: the model's serving signature applies the transform graph itself.
        examples=example_gen.outputs[specs.EXAMPLES_KEY],
        model=trainer.outputs[specs.MODEL_KEY],
        baseline_model=baseline_model.outputs[served_model_keys.MODEL_KEY],
        eval_config=make_eval_config(settings.accuracy_floor, settings.max_accuracy_drop, slice_by_span=data_shape.spans),
        example_splits=[TEST_SPLIT if data_shape.test_split else EVAL_SPLIT],
    ).with_id(nodes.EVALUATOR)
    pusher = Pusher(
        model=trainer.outputs[specs.MODEL_KEY],
        model_blessing=evaluator.outputs[specs.BLESSING_KEY],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)
        ),
        custom_config={served_model_keys.KEEP_VERSIONS_KEY: settings.keep_versions},
    ).with_id(nodes.PUSHER)
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            example_gen, schema_gen, statistics_gen, example_validator, data_gate, transform,
            *([word2vec_component] if word2vec_component else []),
            *([served_model] if warm_start else []), trainer, projector, baseline_model, evaluator, pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(check_beam_args(beam_pipeline_args or [])),
    )


def _base_model(hparams: HParams, warm_start: bool, served_model, word2vec_component):
    """The model the Trainer starts from: the served one on a warm start, else the Word2Vec table
    when ``hparams`` asks for it, else none.

    A warm start wins: the served model began from the table and has fine-tuned it since. Until
    a model is served, a warm start has no base and the first model starts from random rows.
    """
    if warm_start:
        return served_model.outputs[served_model_keys.MODEL_KEY]
    if hparams.embedding_init == EMBEDDING_INIT_WORD2VEC:
        return word2vec_component.outputs[word2vec_keys.MODEL_KEY]
    return None

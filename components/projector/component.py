"""ProjectorExporter: spec and component (its artifact type is in components/artifacts.py)."""

import json
from typing import Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifacts import EmbeddingProjectorFiles, WordEmbedding
from components.model import features
from components.projector import executor
from components.projector import projector as projector_lib

class ProjectorExporterSpec(types.ComponentSpec):
    """Inputs: the trained Model and its Transform graph; output: the projector files."""

    PARAMETERS = {
        executor.EMBEDDING_LAYER_KEY: ExecutionParameter(type=str),
        executor.NUM_OOV_BUCKETS_KEY: ExecutionParameter(type=int),
        # A JSON list of words: exec properties are scalars on every orchestrator.
        executor.PROBE_WORDS_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        executor.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        executor.TRANSFORM_GRAPH_KEY: ChannelParameter(type=standard_artifacts.TransformGraph),
        # The Trainer's logs, for the training-curve plot.
        executor.MODEL_RUN_KEY: ChannelParameter(type=standard_artifacts.ModelRun, optional=True),
        # The train split's token ids, to count each token (a metadata column).
        executor.TRANSFORMED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
        # Word2Vec's table, added to the projector config as a second embedding.
        executor.WORD_EMBEDDING_KEY: ChannelParameter(type=WordEmbedding, optional=True),
    }
    OUTPUTS = {
        executor.PROJECTOR_KEY: ChannelParameter(type=EmbeddingProjectorFiles),
    }


class ProjectorExporter(base_component.BaseComponent):
    """Publishes the Trainer's embedding table for the Embedding Projector and TensorBoard."""

    SPEC_CLASS = ProjectorExporterSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        transform_graph: types.BaseChannel,
        num_oov_buckets: int,
        embedding_layer: str = features.EMBEDDING_LAYER_NAME,
        probe_words: Sequence[str] = projector_lib.DEFAULT_PROBE_WORDS,
        model_run: Optional[types.BaseChannel] = None,
        word_embedding: Optional[types.BaseChannel] = None,
        transformed_examples: Optional[types.BaseChannel] = None,
    ):
        """Creates the component.

        Args:
          model: The Trainer's ``Model`` output.
          transform_graph: The Transform graph whose vocabulary labels the rows.
          num_oov_buckets: OOV rows between the padding row and the vocabulary.
          embedding_layer: Name of the Keras Embedding layer to export.
          probe_words: Words whose ten nearest neighbours are written beside the TSVs.
          model_run: The Trainer's ``model_run`` output, to plot the training curves.
          word_embedding: The Word2Vec component's output, shown as a second embedding.
          transformed_examples: Transform's output, to count each token in the train split.
        """
        spec = ProjectorExporterSpec(
            model=model,
            transform_graph=transform_graph,
            num_oov_buckets=num_oov_buckets,
            embedding_layer=embedding_layer,
            probe_words=json.dumps(list(probe_words)),
            model_run=model_run,
            word_embedding=word_embedding,
            transformed_examples=transformed_examples,
            projector=types.Channel(type=EmbeddingProjectorFiles),
        )
        super().__init__(spec=spec)

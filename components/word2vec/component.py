"""Word2Vec: spec and component (its artifact type is in components/artifacts.py)."""

import json
from typing import Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifacts import WordEmbedding
from components.model.hparams import STANDARDIZATION_TUTORIAL
from components.projector import DEFAULT_PROBE_WORDS
from components.word2vec import (
    EXAMPLES_KEY, MODEL_KEY, PROBE_WORDS_KEY, SETTINGS_KEY, SPLITS_KEY, STANDARDIZATION_KEY, WORD_EMBEDDING_KEY,
    WORD_PAIRS_FILE_KEY, executor)


class Word2VecSpec(types.ComponentSpec):
    """Input: the raw examples; outputs: the word embedding, and the same table as a Trainer's base model."""

    PARAMETERS = {
        # JSON, as exec properties are scalars on every orchestrator.
        SPLITS_KEY: ExecutionParameter(type=str),
        SETTINGS_KEY: ExecutionParameter(type=str),
        PROBE_WORDS_KEY: ExecutionParameter(type=str),
        WORD_PAIRS_FILE_KEY: ExecutionParameter(type=str, optional=True),
        STANDARDIZATION_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {
        WORD_EMBEDDING_KEY: ChannelParameter(type=WordEmbedding),
        # A Model, as the Trainer's base_model must be: the table (embedding/embeddings) and its row tokens, the
        # layout components/model/warm_start.py reads. Never evaluated, blessed or pushed.
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
    }


class Word2Vec(base_component.BaseComponent):
    """Learns word vectors with skip-gram and negative sampling from the text of some splits."""

    SPEC_CLASS = Word2VecSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        splits: Sequence[str],
        settings: dict,
        probe_words: Sequence[str] = DEFAULT_PROBE_WORDS,
        word_pairs_file: Optional[str] = None,
        standardization: str = STANDARDIZATION_TUTORIAL,
    ):
        """Creates the component.

        Args:
          examples: ExampleGen's output.
          splits: The splits whose text it learns from; the test split must not be one.
          settings: ``Word2VecSettings.training_config()``.
          probe_words: Words whose nearest neighbours the summary lists.
          word_pairs_file: Rated word pairs (WordSim-353 format) to correlate with; optional.
          standardization: How text becomes words: the classifier's ``HParams.standardization``.
        """
        if not splits:
            raise ValueError("Word2Vec needs at least one split to learn from")
        super().__init__(spec=Word2VecSpec(
            examples=examples,
            splits=json.dumps(list(splits)),
            settings=json.dumps(settings, sort_keys=True),
            probe_words=json.dumps(list(probe_words)),
            word_pairs_file=word_pairs_file,
            standardization=standardization,
            word_embedding=types.Channel(type=WordEmbedding),
            model=types.Channel(type=standard_artifacts.Model),
        ))

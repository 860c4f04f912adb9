"""The aclImdb ExampleGen component: FileBasedExampleGen with the aclImdb executor."""

from typing import Optional

from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec

from components.example_gen import DEFAULT_EVAL_PERCENT, executor


class AclImdbExampleGen(FileBasedExampleGen):
    """Turns an aclImdb folder into ``train``, ``eval`` and (optionally) ``test`` and ``unsup`` splits.

    Outputs an ``Examples`` artifact of gzipped TFRecords of tf.Examples with the
    features ``text`` (bytes), ``label`` (0/1; absent in ``unsup``), ``rating`` (int),
    ``id`` (bytes) and ``span`` (int).
    """

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = executor.AclImdbDriver

    def __init__(
        self,
        input_base: str,
        include_test_split: bool = True,
        eval_percent: int = DEFAULT_EVAL_PERCENT,
        window: Optional[int] = None,
        include_unsup_split: bool = False,
    ):
        """Creates the component.

        Args:
          input_base: The dataset root: the folder that holds ``train/`` (and ``test/``),
            or, with ``window``, the ``span-N/`` folders that each hold one.
          include_test_split: Whether to read ``test/{pos,neg}`` into a ``test`` split.
          eval_percent: Share of the train folder, in percent, that goes to ``eval``.
          window: Over spans, how many of the newest spans to read (the newest is the
            one TFX's span resolution finds); None for a plain aclImdb folder.
          include_unsup_split: Whether to read ``train/unsup/`` into an ``unsup`` split
            of unlabelled reviews (for the Word2Vec embedding).
        """
        super().__init__(
            input_base=input_base,
            input_config=executor.make_input_config(
                include_test_split, spans=window is not None, include_unsup_split=include_unsup_split),
            custom_config=executor.make_custom_config(eval_percent, window),
        )

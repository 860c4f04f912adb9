"""ServedModel, and the Evaluator and Pusher that go with it: specs and components."""

from typing import Optional

from tfx import types
from tfx import v1 as tfx
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.served_model import CANDIDATE_KEY, MODEL_KEY, SERVED_VERSION_KEY, SERVING_MODEL_DIR_KEY, executor
from components.served_model.driver import ServedModelDriver


class ServedModelSpec(types.ComponentSpec):
    """Parameters: the serving folder and the version found there; input: the optional candidate;
    output: the served model."""

    PARAMETERS = {
        SERVING_MODEL_DIR_KEY: ExecutionParameter(type=str),
        SERVED_VERSION_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {CANDIDATE_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True)}
    OUTPUTS = {MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}


class ServedModel(base_component.BaseComponent):
    """The model being served, as a ``Model`` artifact (empty, with ``served_version`` "", when none is).

    Its output goes to the Trainer's ``base_model`` (warm start) and the Evaluator's
    ``baseline_model``. With ``candidate``, a copy of the candidate in the serving folder is
    skipped: a model is never its own baseline.
    """

    SPEC_CLASS = ServedModelSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
    DRIVER_CLASS = ServedModelDriver

    def __init__(self, serving_model_dir: str, candidate: Optional[types.BaseChannel] = None):
        super().__init__(ServedModelSpec(
            serving_model_dir=serving_model_dir,
            candidate=candidate,
            model=types.Channel(type=standard_artifacts.Model)))


class Evaluator(tfx.components.Evaluator):
    """TFX's Evaluator, taking a ServedModel output as the baseline (see ``executor.EvaluatorExecutor``)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.EvaluatorExecutor)


class Pusher(tfx.components.Pusher):
    """TFX's Pusher, which leaves a model that is already served alone (see ``executor.PusherExecutor``)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.PusherExecutor)

"""DataValidationGate, and an ExampleValidator that compiles for Kubeflow: specs and components."""

from typing import Optional

from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import json_utils, proto_utils

from components.validation import executor


class DataValidationGateSpec(types.ComponentSpec):
    """Inputs: ExampleValidator's anomalies and StatisticsGen's statistics; no outputs."""

    PARAMETERS = {}
    INPUTS = {
        executor.ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        executor.STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
    }
    OUTPUTS = {}


class DataValidationGate(base_component.BaseComponent):
    """Stops the run with a readable error when ExampleValidator found anomalies.

    ExampleValidator records anomalies but lets the pipeline go on; components that
    must not run on bad data declare this gate as an upstream node.
    """

    SPEC_CLASS = DataValidationGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, statistics: types.BaseChannel):
        super().__init__(spec=DataValidationGateSpec(anomalies=anomalies, statistics=statistics))


class PortableExampleValidatorSpec(standard_component_specs.ExampleValidatorSpec):
    """TFX's ExampleValidator spec with ``custom_validation_config`` as a JSON string.

    TFX 1.16 turns that proto into a ``make_proto`` placeholder, which
    ``KubeflowV2DagRunner`` cannot compile; a JSON string compiles on every runner.
    """

    PARAMETERS = {
        **standard_component_specs.ExampleValidatorSpec.PARAMETERS,
        standard_component_specs.CUSTOM_VALIDATION_CONFIG_KEY: ExecutionParameter(type=str, optional=True),
    }


class PortableExampleValidator(base_component.BaseComponent):
    """TFX's ExampleValidator, with custom validations that compile for Kubeflow and Vertex too."""

    SPEC_CLASS = PortableExampleValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.PortableExampleValidatorExecutor)

    def __init__(
        self,
        statistics: types.BaseChannel,
        schema: types.BaseChannel,
        custom_validation_config: Optional[custom_validation_config_pb2.CustomValidationConfig] = None,
    ):
        """Creates the component.

        Args:
          statistics: StatisticsGen's ``statistics``.
          schema: The schema to validate against.
          custom_validation_config: TFDV SQL validations, applied to every split.
        """
        super().__init__(spec=PortableExampleValidatorSpec(
            statistics=statistics,
            schema=schema,
            exclude_splits=json_utils.dumps([]),
            custom_validation_config=(
                proto_utils.proto_to_json(custom_validation_config) if custom_validation_config else None),
            anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies),
        ))

"""DataValidationGate: spec and component."""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter

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

"""Executors of DataValidationGate (finds each split's anomalies and statistics, then checks them)
and of PortableExampleValidator."""

from typing import Any, Dict, List

from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import types
from tfx.components.example_validator import executor as example_validator_executor
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.validation import anomalies as anomalies_lib

ANOMALIES_KEY = "anomalies"
STATISTICS_KEY = "statistics"


class Executor(base_executor.BaseExecutor):
    """Fails the component, and so the run, when any split has anomalies."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        anomalies_artifact = artifact_utils.get_single_instance(input_dict[ANOMALIES_KEY])
        statistics_artifact = artifact_utils.get_single_instance(input_dict[STATISTICS_KEY])
        splits = artifact_utils.decode_split_names(anomalies_artifact.split_names)
        anomalies_lib.check(
            {
                split: anomalies_lib.read_anomalies(artifact_utils.get_split_uri([anomalies_artifact], split))
                for split in splits
            },
            {
                split: artifact_utils.get_split_uri([statistics_artifact], split)
                for split in artifact_utils.decode_split_names(statistics_artifact.split_names)
            },
        )


class PortableExampleValidatorExecutor(example_validator_executor.Executor):
    """TFX's ExampleValidator executor, given ``custom_validation_config`` as a JSON string."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        key = standard_component_specs.CUSTOM_VALIDATION_CONFIG_KEY
        if isinstance(exec_properties.get(key), str):
            config = proto_utils.json_to_proto(exec_properties[key], custom_validation_config_pb2.CustomValidationConfig())
            exec_properties = {**exec_properties, key: config}
        super().Do(input_dict, output_dict, exec_properties)

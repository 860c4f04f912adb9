"""ServedModel's driver (local runner): which version is served, before the cache is looked up.

The version becomes an execution property, so that the cache key changes when another
model is served and stays the same when nothing changed. On Kubeflow Pipelines and Vertex
AI, which run no custom driver, the input probe fills in the same property, with the newest
version not trained on the run's data (see ``pipeline/runners/kfp_container.py``); locally,
``retrain`` runs nothing when no span is new, so the newest version is the one to name.
"""

from tfx.dsl.components.base import base_driver
from tfx.orchestration import metadata
from tfx.orchestration.portable import base_driver as ir_base_driver, data_types
from tfx.proto.orchestration import driver_output_pb2

from components.served_model import SERVED_VERSION_KEY, SERVING_MODEL_DIR_KEY, served
from components.served_model.executor import candidate_dir


class ServedModelDriver(base_driver.BaseDriver, ir_base_driver.BaseDriver):
    """Fills in ``served_version``: the newest version under the serving folder other than the candidate.

    Both base classes, as TFX's ExampleGen driver: the component checks the first, the local runner calls
    the second's ``run``.
    """

    def __init__(self, metadata_handle: metadata.Metadata):
        base_driver.BaseDriver.__init__(self, metadata_handle)
        ir_base_driver.BaseDriver.__init__(self, metadata_handle)

    def run(self, execution_info: data_types.ExecutionInfo) -> driver_output_pb2.DriverOutput:
        version = served.latest_served_version(execution_info.exec_properties[SERVING_MODEL_DIR_KEY],
                                               other_than=candidate_dir(execution_info.input_dict))
        result = driver_output_pb2.DriverOutput()
        result.exec_properties[SERVED_VERSION_KEY].string_value = version
        return result

"""ImportSchemaGen for a schema shipped inside the project: found where the project is installed.

A compiled Kubeflow spec must not name a path of the machine that compiled it; a path
relative to the installed project names the same file in a checkout, in the pipeline
image (``/pipeline``) and in any other installed copy.
"""

import os
from typing import Any, Dict, List

from tfx import types
from tfx import v1 as tfx
from tfx.components.schema_gen.import_schema_gen import executor as import_schema_gen_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

# The folder that holds the installed packages (components/, pipeline/).
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resolve_schema_file(schema_file: str) -> str:
    """A URI or absolute path as it is; a relative path under ``PROJECT_ROOT``."""
    if "://" in schema_file or os.path.isabs(schema_file):
        return schema_file
    return os.path.join(PROJECT_ROOT, schema_file)


class Executor(import_schema_gen_executor.Executor):
    """TFX's ImportSchemaGen executor, with a project-relative ``schema_file`` resolved first."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        key = standard_component_specs.SCHEMA_FILE_KEY
        super().Do(input_dict, output_dict, {**exec_properties, key: resolve_schema_file(exec_properties[key])})


class PackagedImportSchemaGen(tfx.components.ImportSchemaGen):
    """ImportSchemaGen whose ``schema_file`` may be relative to the installed project."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

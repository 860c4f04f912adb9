"""Runs a compiled KFP v2 pipeline on this machine, task by task, as the KFP v2 launcher would (tests only).

For each task in dependency order it builds the ``ExecutorInput`` from the spec
(parameters from constants and pipeline parameters, input artifacts from the
upstream tasks' executor outputs, output URIs under the pipeline root and an
``outputFile``), substitutes it for ``{{$}}`` in the container's command and
arguments exactly as the spec gives them, runs them in a subprocess, and reads the
``ExecutorOutput`` back. A container's ``preCacheCheck`` hook (the ExampleGen
driver) runs first, as Vertex AI runs it.

What this emulation cannot do, and a real cluster does:
- Resolver tasks are queries against the cluster's ML Metadata; here they return
  no artifact, as on a pipeline's first run (no blessed model yet).
- Caching: every task runs; nothing is looked up or recorded in ML Metadata.
- Images, Kubernetes resources (the Trainer's GPU) and pod scheduling: the
  commands run in this checkout's environment, one after the other.
- Open-source KFP's launcher does not run ``preCacheCheck`` hooks (Vertex does).
"""

import json
import os
import subprocess
import time
from typing import Any, Dict, List, Optional

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"


def load_pipeline_spec(path: str) -> pipeline_spec_pb2.PipelineSpec:
    """Parses a compiled ``.yaml`` (PipelineSpec) into kfp's proto; unknown fields are an error."""
    with open(path, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    return json_format.ParseDict(document, pipeline_spec_pb2.PipelineSpec())


def deployment_config(spec: pipeline_spec_pb2.PipelineSpec) -> pipeline_spec_pb2.PipelineDeploymentConfig:
    return json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec),
                                 pipeline_spec_pb2.PipelineDeploymentConfig())


def dependencies(task: pipeline_spec_pb2.PipelineTaskSpec) -> set:
    """The tasks a task waits for: its declared dependencies and the producers of its input artifacts."""
    producers = {a.task_output_artifact.producer_task for a in task.inputs.artifacts.values()
                 if a.HasField("task_output_artifact")}
    return set(task.dependent_tasks) | producers


def dependency_order(spec: pipeline_spec_pb2.PipelineSpec) -> List[str]:
    """Task names, each after every task it depends on (ties by name, so the order is fixed)."""
    tasks = spec.root.dag.tasks
    done: List[str] = []
    waiting = {name: dependencies(task) for name, task in tasks.items()}
    while waiting:
        ready = sorted(name for name, needs in waiting.items() if needs <= set(done))
        if not ready:
            raise ValueError(f"the tasks {sorted(waiting)} depend on each other in a cycle")
        done.append(ready[0])
        del waiting[ready[0]]
    return done


class TaskFailed(RuntimeError):
    pass


class LauncherEmulation:
    """Executes the tasks of one compiled pipeline run under a pipeline root."""

    def __init__(self, spec: pipeline_spec_pb2.PipelineSpec, pipeline_root: str,
                 parameters: Optional[Dict[str, Any]] = None, env: Optional[Dict[str, str]] = None,
                 cwd: Optional[str] = None, run_id: str = "emulated-run"):
        self.spec = spec
        self.executors = deployment_config(spec).executors
        self.pipeline_root = pipeline_root
        self.run_id = run_id
        self.env = env
        self.cwd = cwd
        self.parameters = {
            name: json_format.MessageToDict(definition.default_value)
            for name, definition in spec.root.input_definitions.parameters.items()
            if definition.HasField("default_value")
        }
        self.parameters.update(parameters or {})
        self.outputs: Dict[str, Dict[str, List[pipeline_spec_pb2.RuntimeArtifact]]] = {}
        self.seconds: Dict[str, float] = {}
        self.skipped: Dict[str, str] = {}

    def run(self) -> None:
        for name in dependency_order(self.spec):
            self.run_task(name)

    def _task_root(self, name: str) -> str:
        return os.path.join(self.pipeline_root, self.run_id, name)

    def run_task(self, name: str) -> None:
        task = self.spec.root.dag.tasks[name]
        component = self.spec.components[task.component_ref.name]
        executor = self.executors[component.executor_label]
        if executor.HasField("resolver"):
            # A query of the cluster's ML Metadata; a fresh pipeline root has no blessed model.
            self.outputs[name] = {key: [] for key in component.output_definitions.artifacts}
            self.skipped[name] = "resolver: no ML Metadata here, resolved to nothing (as on a first run)"
            return
        if not executor.HasField("container"):
            raise NotImplementedError(f"{name}: executor kind {executor.WhichOneof('spec')} is not emulated")
        executor_input = self._executor_input(name, task, component)
        serialized = json_format.MessageToJson(executor_input)
        container = executor.container
        started = time.monotonic()
        driver_outputs = {}
        if container.HasField("lifecycle") and container.lifecycle.HasField("pre_cache_check"):
            # The driver writes updated parameters and output metadata (span, fingerprint) to the
            # output file; the executor reads the parameters from it, then overwrites it.
            hook = container.lifecycle.pre_cache_check
            self._call(name + " (preCacheCheck)", list(hook.command), list(hook.args), serialized)
            driver_outputs = self._read_outputs(executor_input)
        self._call(name, list(container.command), list(container.args), serialized)
        self.seconds[name] = time.monotonic() - started
        self.outputs[name] = self._read_outputs(executor_input, driver_outputs)

    def _call(self, what: str, command: List[str], args: List[str], serialized: str) -> None:
        argv = [serialized if a == EXECUTOR_INPUT_PLACEHOLDER else a for a in command + args]
        unresolved = [a for a in argv if "{{$" in a]
        if unresolved:
            raise NotImplementedError(f"{what}: placeholders this emulation does not resolve: {unresolved}")
        result = subprocess.run(argv, env=self.env, cwd=self.cwd, capture_output=True, text=True)
        if result.returncode != 0:
            raise TaskFailed(f"{what} exited with {result.returncode}:\n{result.stderr[-6000:]}")

    def _executor_input(self, name, task, component) -> pipeline_spec_pb2.ExecutorInput:
        executor_input = pipeline_spec_pb2.ExecutorInput()
        for key, parameter in task.inputs.parameters.items():
            value = executor_input.inputs.parameter_values[key]
            if parameter.HasField("runtime_value"):
                value.CopyFrom(parameter.runtime_value.constant)
            elif parameter.component_input_parameter:
                json_format.ParseDict(self.parameters[parameter.component_input_parameter], value)
            else:
                raise NotImplementedError(f"{name}: parameter {key} is neither a constant nor a pipeline parameter")
        for key, artifact in task.inputs.artifacts.items():
            source = artifact.task_output_artifact
            produced = self.outputs[source.producer_task][source.output_artifact_key]
            executor_input.inputs.artifacts[key].artifacts.extend(produced)
        root = self._task_root(name)
        for key, definition in component.output_definitions.artifacts.items():
            output = executor_input.outputs.artifacts[key].artifacts.add()
            output.name = f"{self.run_id}/{name}/{key}"
            output.type.CopyFrom(definition.artifact_type)
            output.uri = os.path.join(root, key)
            if definition.metadata:
                output.metadata.CopyFrom(definition.metadata)
        executor_input.outputs.output_file = os.path.join(root, "executor_output.json")
        return executor_input

    @staticmethod
    def _read_outputs(executor_input, earlier=None) -> Dict[str, List[pipeline_spec_pb2.RuntimeArtifact]]:
        """The task's output artifacts: names, types and URIs as given, metadata as the executor wrote it
        (over what ``earlier``, the driver's outputs, had)."""
        executor_output = pipeline_spec_pb2.ExecutorOutput()
        with open(executor_input.outputs.output_file, encoding="utf-8") as f:
            json_format.Parse(f.read(), executor_output, ignore_unknown_fields=True)
        result = {}
        for key, given in executor_input.outputs.artifacts.items():
            artifacts = []
            for index, artifact in enumerate(given.artifacts):
                merged = pipeline_spec_pb2.RuntimeArtifact()
                merged.CopyFrom((earlier or {}).get(key, given.artifacts)[index])
                written = [a for a in executor_output.artifacts[key].artifacts if a.uri == artifact.uri]
                if written:
                    merged.metadata.update(json_format.MessageToDict(written[0].metadata))
                artifacts.append(merged)
            result[key] = artifacts
        return result

    def output_metadata(self, task: str, key: str) -> Dict[str, Any]:
        (artifact,) = self.outputs[task][key]
        return json_format.MessageToDict(artifact.metadata)

"""Runs a compiled KFP v2 pipeline on this machine as open-source Kubeflow Pipelines would (tests only).

Each rule below follows the backend's source (``kubeflow/pipelines``, ``backend/src/v2``),
so that a spec that a cluster would refuse or fail fails here too:

- Executors: only ``container`` and ``importer`` run; any other kind (a resolver) refuses
  the whole run before a task starts, as the Argo compiler does when the API server
  creates the run (``compiler/argocompiler/dag.go``, ``task``: "resolver executors not
  implemented"; ``argo.go``, ``Resolver``). Importers are refused here as not emulated.
- Outputs: the driver provisions every output artifact under
  ``ROOT/PIPELINE/RUN/TASK/UUID/KEY`` (``driver/driver.go``, ``provisionOutputs``;
  ``metadata/client.go``, ``GenerateOutputURI`` and ``GetPipeline``), names it by its key,
  adds ``executor-logs`` of type ``system.Artifact`` when ``PUBLISH_LOGS`` is true (the
  default manifests), and places the output file beside them (``output_metadata.json``).
  The launcher tees the step's output into the logs artifact
  (``component/launcher_v2.go``, ``getLogWriter``).
- Hooks: ``preCacheCheck`` is never run for open-source KFP (no reference in
  ``backend/src``); Vertex AI runs it, so it runs for ``vertex=True``.
- Results: the ExecutorOutput file is parsed strictly (``protojson.Unmarshal`` in
  ``getExecutorOutputFile``); output parameters come from it, else from their files
  (``collectOutputParameters``); output artifact metadata is merged from it
  (``uploadOutputArtifacts``); input artifacts are named by their ML Metadata id
  (``metadata/converter.go``, ``toRuntimeArtifact``).
- Cache: a task whose ``cachingOptions.enableCache`` is set reuses the outputs (the same
  artifacts) of an earlier execution with the same fingerprint: sha256 of the cache key
  built by ``cacheutils/cache.go`` (``GenerateCacheKey``, ``GenerateFingerPrint``):
  input artifact names, input parameter values, output artifact specs without URIs,
  output parameter types, image and the spec's command and arguments
  (``driver/container.go``, ``getFingerPrint``).
- Scheduling: a task starts once every task it depends on has finished, several at a
  time, as Argo runs a DAG.
- Working directory: each task runs in an empty folder of its own with the project
  imported from an installed copy (as the image installs it), nothing of the checkout
  on its path.

What this emulation cannot do, and a real cluster does: the object store (the pipeline
root is a local folder here, where the launcher would map ``gs://`` to ``/gcs/``), images,
Kubernetes resources (the Trainer's GPU) and pod scheduling (at most ``parallelism`` tasks
at a time, in this environment), and ML Metadata beyond artifact ids.
"""

import hashlib
import json
import os
import subprocess
import threading
import time
import uuid
from concurrent import futures
from typing import Any, Dict, List, Optional

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
LOGS_KEY = "executor-logs"
OUTPUT_METADATA_FILE = "output_metadata.json"


def load_pipeline_spec(path: str) -> pipeline_spec_pb2.PipelineSpec:
    """Parses a compiled ``.yaml`` (PipelineSpec) into kfp's proto; unknown fields are an error."""
    with open(path, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    return json_format.ParseDict(document, pipeline_spec_pb2.PipelineSpec())


def deployment_config(spec: pipeline_spec_pb2.PipelineSpec) -> pipeline_spec_pb2.PipelineDeploymentConfig:
    return json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec),
                                 pipeline_spec_pb2.PipelineDeploymentConfig())


def dependencies(task: pipeline_spec_pb2.PipelineTaskSpec) -> set:
    """The tasks a task waits for: its declared dependencies and the producers of its inputs."""
    producers = {a.task_output_artifact.producer_task for a in task.inputs.artifacts.values()
                 if a.HasField("task_output_artifact")}
    producers |= {p.task_output_parameter.producer_task for p in task.inputs.parameters.values()
                  if p.HasField("task_output_parameter")}
    return set(task.dependent_tasks) | producers


class RunRefused(ValueError):
    """The API server would refuse to create the run (its Argo compiler fails)."""


class TaskFailed(RuntimeError):
    pass


def check_executors(spec: pipeline_spec_pb2.PipelineSpec) -> None:
    """Raises RunRefused for any executor that is not a container (``dag.go``: "resolver executors not implemented")."""
    for label, executor in deployment_config(spec).executors.items():
        kind = executor.WhichOneof("spec")
        if kind == "importer":
            raise NotImplementedError(f"{label}: importer executors are not emulated")
        if kind != "container":
            raise RunRefused(f"{label}: {kind} executors not implemented (argocompiler/dag.go)")


def cache_fingerprint(executor_input: pipeline_spec_pb2.ExecutorInput, component: pipeline_spec_pb2.ComponentSpec,
                      container: pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec) -> str:
    """``GenerateCacheKey`` then ``GenerateFingerPrint`` (``cacheutils/cache.go``)."""
    inputs, outputs = executor_input.inputs, executor_input.outputs
    key = {
        "inputArtifactNames": {name: {"artifactNames": [a.name for a in artifacts.artifacts]}
                               for name, artifacts in inputs.artifacts.items()},
        "inputParameterValues": {name: json_format.MessageToDict(value)
                                 for name, value in inputs.parameter_values.items()},
        "outputArtifactsSpec": {
            name: json_format.MessageToDict(pipeline_spec_pb2.RuntimeArtifact(
                name=artifacts.artifacts[0].name, type=artifacts.artifacts[0].type,
                metadata=artifacts.artifacts[0].metadata))
            for name, artifacts in outputs.artifacts.items() if artifacts.artifacts},
        "outputParametersSpec": {
            name: pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name(
                component.output_definitions.parameters[name].parameter_type)
            for name in outputs.parameters},
        "containerSpec": {"image": container.image, "cmdArgs": list(container.command) + list(container.args)},
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


class Cluster:
    """What outlives a run on a cluster: ML Metadata's artifact ids and the cache."""

    def __init__(self, publish_logs: bool = True):
        self.publish_logs = publish_logs
        self.next_artifact_id = 1
        self.cache: Dict[str, Dict[str, Any]] = {}  # fingerprint -> outputs of the execution
        self.lock = threading.Lock()


class LauncherEmulation:
    """Executes the tasks of one run of a compiled pipeline, as driver and launcher would."""

    def __init__(self, spec: pipeline_spec_pb2.PipelineSpec, cluster: Cluster, env: Dict[str, str],
                 parameters: Optional[Dict[str, Any]] = None, pipeline_root: Optional[str] = None,
                 run_id: Optional[str] = None, vertex: bool = False, work_dir: str = "/tmp"):
        self.spec = spec
        self.cluster = cluster
        self.executors = deployment_config(spec).executors
        # A run request names its root; `submit` passes the spec's defaultPipelineRoot.
        self.pipeline_root = pipeline_root or spec.default_pipeline_root
        if not self.pipeline_root:
            raise ValueError("no pipeline root: the run would write to the cluster's default (minio://...)")
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.env = env
        self.vertex = vertex
        self.work_dir = work_dir
        self.parameters = {
            name: json_format.MessageToDict(definition.default_value)
            for name, definition in spec.root.input_definitions.parameters.items()
            if definition.HasField("default_value")
        }
        self.parameters.update(parameters or {})
        self.outputs: Dict[str, Dict[str, List[pipeline_spec_pb2.RuntimeArtifact]]] = {}
        self.output_parameters: Dict[str, Dict[str, Any]] = {}
        self.seconds: Dict[str, float] = {}
        self.cached: List[str] = []
        self.logs: Dict[str, str] = {}

    def run(self, parallelism: int = 2) -> None:
        """Runs every task, each once its dependencies are done, ``parallelism`` at a time."""
        check_executors(self.spec)
        waiting = {name: dependencies(task) for name, task in self.spec.root.dag.tasks.items()}
        done: set = set()
        with futures.ThreadPoolExecutor(parallelism) as pool:
            running: Dict[futures.Future, str] = {}
            while waiting or running:
                for name in sorted(name for name, needs in waiting.items() if needs <= done):
                    if len(running) < parallelism:
                        running[pool.submit(self.run_task, name)] = name
                        del waiting[name]
                if not running:
                    raise ValueError(f"the tasks {sorted(waiting)} depend on each other in a cycle")
                finished, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for future in finished:
                    done.add(running.pop(future))
                    future.result()  # a failed task fails the run

    def run_task(self, name: str) -> None:
        task = self.spec.root.dag.tasks[name]
        component = self.spec.components[task.component_ref.name]
        container = self.executors[component.executor_label].container
        task_root = f"{self.pipeline_root.rstrip('/')}/{self.spec.pipeline_info.name}/{self.run_id}/{name}/{uuid.uuid4()}"
        executor_input = self._executor_input(name, task, component, task_root)
        fingerprint = cache_fingerprint(executor_input, component, container)
        with self.cluster.lock:
            reused = self.cluster.cache.get(fingerprint) if task.caching_options.enable_cache else None
        if reused:
            self.outputs[name], self.output_parameters[name] = reused["artifacts"], reused["parameters"]
            self.cached.append(name)
            return
        pod_dir = os.path.join(self.work_dir, f"{self.run_id}-{name}")
        os.makedirs(pod_dir)
        for parameter in executor_input.outputs.parameters.values():
            parameter.output_file = os.path.join(pod_dir, "tmp", "kfp", "outputs",
                                                 os.path.basename(parameter.output_file))
            os.makedirs(os.path.dirname(parameter.output_file), exist_ok=True)
        cwd = os.path.join(pod_dir, "workdir")
        os.makedirs(cwd)
        serialized = json_format.MessageToJson(executor_input)
        started = time.monotonic()
        log = []
        if self.vertex and container.HasField("lifecycle") and container.lifecycle.HasField("pre_cache_check"):
            hook = container.lifecycle.pre_cache_check
            log.append(self._call(name + " (preCacheCheck)", list(hook.command), list(hook.args), serialized, cwd))
        log.append(self._call(name, list(container.command), list(container.args), serialized, cwd))
        self.seconds[name] = time.monotonic() - started
        self.logs[name] = "".join(log)
        if LOGS_KEY in executor_input.outputs.artifacts:
            logs_path = executor_input.outputs.artifacts[LOGS_KEY].artifacts[0].uri
            os.makedirs(os.path.dirname(logs_path), exist_ok=True)
            with open(logs_path, "w", encoding="utf-8") as f:
                f.write(self.logs[name])
        with self.cluster.lock:
            self.outputs[name], self.output_parameters[name] = self._collect(executor_input, component)
            self.cluster.cache[fingerprint] = {"artifacts": self.outputs[name], "parameters": self.output_parameters[name]}

    def _call(self, what: str, command: List[str], args: List[str], serialized: str, cwd: str) -> str:
        argv = [serialized if a == EXECUTOR_INPUT_PLACEHOLDER else a for a in command + args]
        unresolved = [a for a in argv if "{{$" in a]
        if unresolved:
            raise NotImplementedError(f"{what}: placeholders this emulation does not resolve: {unresolved}")
        result = subprocess.run(argv, env=self.env, cwd=cwd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise TaskFailed(f"{what} exited with {result.returncode}:\n{result.stderr[-6000:]}")
        return result.stdout + result.stderr

    def _executor_input(self, name, task, component, task_root) -> pipeline_spec_pb2.ExecutorInput:
        executor_input = pipeline_spec_pb2.ExecutorInput()
        for key, parameter in task.inputs.parameters.items():
            value = executor_input.inputs.parameter_values[key]
            if parameter.HasField("runtime_value"):
                value.CopyFrom(parameter.runtime_value.constant)
            elif parameter.component_input_parameter:
                json_format.ParseDict(self.parameters[parameter.component_input_parameter], value)
            elif parameter.HasField("task_output_parameter"):
                source = parameter.task_output_parameter
                json_format.ParseDict(self.output_parameters[source.producer_task][source.output_parameter_key], value)
            else:
                raise NotImplementedError(f"{name}: parameter {key} is of a kind this emulation does not resolve")
        for key, artifact in task.inputs.artifacts.items():
            source = artifact.task_output_artifact
            executor_input.inputs.artifacts[key].artifacts.extend(
                self.outputs[source.producer_task][source.output_artifact_key])
        definitions = dict(component.output_definitions.artifacts)
        if self.cluster.publish_logs:
            definitions[LOGS_KEY] = pipeline_spec_pb2.ComponentOutputsSpec.ArtifactSpec(
                artifact_type=pipeline_spec_pb2.ArtifactTypeSchema(schema_title="system.Artifact"))
        for key, definition in definitions.items():
            output = executor_input.outputs.artifacts[key].artifacts.add()
            output.name = key
            output.type.CopyFrom(definition.artifact_type)
            output.uri = f"{task_root}/{key}"
            if definition.metadata:
                output.metadata.CopyFrom(definition.metadata)
        for key in component.output_definitions.parameters:
            executor_input.outputs.parameters[key].output_file = f"/tmp/kfp/outputs/{key}"
        executor_input.outputs.output_file = f"{task_root}/{OUTPUT_METADATA_FILE}"
        return executor_input

    def _collect(self, executor_input, component):
        """Output artifacts (registered with new ids) and parameters, as the launcher collects them."""
        executor_output = pipeline_spec_pb2.ExecutorOutput()
        if os.path.exists(executor_input.outputs.output_file):
            with open(executor_input.outputs.output_file, encoding="utf-8") as f:
                json_format.Parse(f.read(), executor_output)  # strict, as protojson.Unmarshal
        parameters = {name: json_format.MessageToDict(value) for name, value in executor_output.parameter_values.items()}
        for name, parameter in executor_input.outputs.parameters.items():
            if name not in parameters:
                kind = component.output_definitions.parameters[name].parameter_type
                with open(parameter.output_file, encoding="utf-8") as f:
                    text = f.read()
                parameters[name] = text if kind == pipeline_spec_pb2.ParameterType.STRING else json.loads(text)
        artifacts = {}
        for key, given in executor_input.outputs.artifacts.items():
            registered = []
            for artifact in given.artifacts:
                merged = pipeline_spec_pb2.RuntimeArtifact()
                merged.CopyFrom(artifact)
                written = executor_output.artifacts[key].artifacts if key in executor_output.artifacts else []
                if written and key != LOGS_KEY:
                    merged.metadata.update(json_format.MessageToDict(written[0].metadata))
                merged.name = str(self.cluster.next_artifact_id)
                self.cluster.next_artifact_id += 1
                registered.append(merged)
            artifacts[key] = registered
        return artifacts, parameters

    def output_metadata(self, task: str, key: str) -> Dict[str, Any]:
        (artifact,) = self.outputs[task][key]
        return json_format.MessageToDict(artifact.metadata)

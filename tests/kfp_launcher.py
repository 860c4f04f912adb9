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
  ``backend/src``).

With ``vertex=True``, Vertex AI Pipelines as its documentation describes it instead (no
source to read): a ``preCacheCheck`` hook runs before the cache is looked up and its
ExecutorOutput's parameters join the task's inputs; the job's ``enable_caching``, when set,
overrides every task's caching option; artifacts keep their type between tasks; no
``executor-logs`` output; the ExecutorOutput file is ``executor_output.json`` beside the
outputs.
- The ExecutorOutput file: a path of the pod, ``LocalPathForURI`` of the task root plus
  ``output_metadata.json`` (``driver.go``, ``provisionOutputs``: ``/gcs/BUCKET/.../UUID/``;
  here under the pod's folder), parsed strictly (``protojson.Unmarshal`` in
  ``getExecutorOutputFile``); output parameters come from it, else from their files
  (``collectOutputParameters``); output artifact metadata is merged from it
  (``uploadOutputArtifacts``).
- Artifacts go through ML Metadata between tasks: the launcher records each output
  (``metadata/client.go``, ``RecordArtifact``: ``toMLMDArtifact`` turns the metadata into
  custom properties, numbers as doubles, booleans as ints, lists and structs wrapped as
  ``{"list": ...}`` and ``{"struct": ...}``, null refused; ``display_name`` and
  ``store_session_info`` added), and the next task's driver reads it back
  (``GetOutputArtifactsByExecutionId`` with ``Schema: ""``, ``OutputArtifact.ToRuntimeArtifact``
  and ``converter.go``'s ``toRuntimeArtifact``): named by its id, with its URI and metadata,
  and typed ``{instanceSchema: ""}``.
- Parameters: a runtime constant that is one of the driver's placeholders
  (``{{$.pipeline_job_uuid}}``, ...) is replaced by the run's value (``driver/resolve.go``).
- Cache: a task whose ``cachingOptions.enableCache`` is set reuses the outputs (the same
  artifacts) of an earlier execution of the same pipeline name and namespace
  (``GetExecutionCache``) with the same fingerprint: sha256 of the cache key built by
  ``cacheutils/cache.go`` (``GenerateCacheKey``, ``GenerateFingerPrint``): input artifact
  names, input parameter values, output artifact specs without URIs, output parameter
  types, image and the spec's command and arguments (``driver/cache.go``, ``getFingerPrint``).
  The launcher creates the entry only after the task succeeded.
- Scheduling: a task starts once every task it depends on has finished, several at a
  time, as Argo runs a DAG.
- Working directory: each task runs in an empty folder of its own with the project
  imported from an installed copy (as the image installs it), nothing of the checkout
  on its path. Its process is forked from one that imported the step's entry point from
  there (``tests/task_zygote.py``, ``TaskZygote``), to spare some sixty imports of
  TensorFlow and TFX; ``tests/test_kubeflow_container.py`` starts the entry point as a
  fresh interpreter.

- The object store, for a ``minio://`` or ``s3://`` pipeline root: a real S3 API server on
  loopback (``tests/object_store.py``, moto's). Before a task, the launcher downloads every
  input artifact to ``LocalPathForURI`` of its URI (``downloadArtifacts``) and makes the
  folders of the outputs' (``prepareOutputFolders``); it fills in the ``.uri`` and ``.path``
  placeholders of the command (``getPlaceholders``, ``compileCmdAndArgs``); afterwards it
  takes each output's URI from the ExecutorOutput when one is there (``mergeRuntimeArtifacts``)
  and uploads from ``LocalPathForURI`` of it, skipping an output whose URI has no local path
  or whose local path does not exist (``uploadOutputArtifacts``). Each task's pod folder is
  its own: nothing of an earlier task is on it but what the launcher downloads. A path
  parameter must lie on a volume the task's executor mounts (the PlatformSpec's ``pvcMount``,
  ``driver/k8s.go``), as nothing else of a cluster is on a pod's disk.
  With a local folder as the pipeline root (the runs over Cloud Storage, whose TFX reads and
  writes ``gs://`` itself), nothing is copied: TFX works on the folder.

What this emulation cannot do, and a real cluster does: separate disks (every pod folder is on this
machine, so a pod-local path that leaked into an artifact's metadata would still be readable
here), Cloud Storage (a local folder stands
in for the bucket; the launcher would also download every input artifact to ``/gcs/``), the
store's own credentials (moto takes any), images,
Kubernetes resources (the Trainer's GPU) and pod scheduling (at most ``parallelism`` tasks
at a time, in this environment), and ML Metadata beyond artifact ids.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent import futures
from typing import Any, Dict, List, Optional, Tuple

import yaml
from google.protobuf import json_format, struct_pb2
from kfp.pipeline_spec import pipeline_spec_pb2

from tests import object_store

EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
LOGS_KEY = "executor-logs"
OUTPUT_METADATA_FILE = "output_metadata.json"
VERTEX_OUTPUT_FILE = "executor_output.json"
# The store session the launcher records with every artifact (RecordArtifact), for a bucket read with the pod's
# own credentials.
STORE_SESSION_INFO = json.dumps({"Provider": "gs", "Params": {"fromEnv": "true"}})
# The schemes of the stores the emulation runs against (object_store.S3Server).
S3_SCHEMES = ("minio://", "s3://")


def local_path_for_uri(uri: str) -> str:
    """``LocalPathForURI`` (``component/launcher_v2.go``): where the launcher copies an artifact on the pod."""
    for scheme, folder in (("gs://", "/gcs/"), ("minio://", "/minio/"), ("s3://", "/s3/")):
        if uri.startswith(scheme):
            return folder + uri[len(scheme):]
    raise ValueError(f"failed to generate local path for URI {uri}: unsupported storage scheme")


def load_pipeline_spec(path: str) -> pipeline_spec_pb2.PipelineSpec:
    """Parses a compiled ``.yaml`` (PipelineSpec) into kfp's proto; unknown fields are an error."""
    return load_package(path)[0]


def load_package(path: str) -> Tuple[pipeline_spec_pb2.PipelineSpec, pipeline_spec_pb2.PlatformSpec]:
    """The PipelineSpec and the PlatformSpec of a compiled ``.yaml``, as ``kfp.Client`` reads them
    (``_extract_pipeline_yaml``: the first document, then the rest merged); unknown fields are an error."""
    with open(path, encoding="utf-8") as f:
        documents = list(yaml.safe_load_all(f))
    platform: Dict[str, Any] = {}
    for document in documents[1:]:
        platform.update(document)
    return (json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec()),
            json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec()))


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


def to_mlmd_value(value: struct_pb2.Value) -> Tuple[str, Any]:
    """``StructValueToMLMDValue`` (``metadata/converter.go``): (MLMD value kind, value)."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return "string_value", value.string_value
    if kind == "number_value":
        return "double_value", value.number_value
    if kind == "bool_value":
        return "int_value", int(value.bool_value)
    if kind == "list_value":
        return "struct_value", {"list": json_format.MessageToDict(value.list_value)}
    if kind == "struct_value":
        return "struct_value", {"struct": json_format.MessageToDict(value.struct_value)}
    raise TaskFailed(f"unknown/unsupported value type {kind} (converter.go, StructValueToMLMDValue)")


class Cluster:
    """What outlives a run on a cluster: ML Metadata's artifacts and the cache."""

    def __init__(self, publish_logs: bool = True, namespace: str = "kubeflow"):
        self.publish_logs = publish_logs
        self.namespace = namespace
        self.artifacts: Dict[int, Dict[str, Any]] = {}  # id -> {"uri", "type", "custom_properties"}
        # (pipeline name, namespace, fingerprint) -> outputs of the execution
        self.cache: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
        self.lock = threading.Lock()

    def record_artifact(self, output_name: str, artifact: pipeline_spec_pb2.RuntimeArtifact) -> int:
        """``RecordArtifact``: the artifact in ML Metadata, its metadata as custom properties. Returns its id."""
        properties = {key: to_mlmd_value(value) for key, value in artifact.metadata.fields.items()
                      if key != "_kfp_workspace"}
        properties.setdefault("display_name", ("string_value", output_name))
        properties.setdefault("store_session_info", ("string_value", STORE_SESSION_INFO))
        artifact_id = len(self.artifacts) + 1
        self.artifacts[artifact_id] = {"uri": artifact.uri, "type": artifact.type, "custom_properties": properties}
        return artifact_id

    def runtime_artifact(self, artifact_id: int, keep_type: bool = False) -> pipeline_spec_pb2.RuntimeArtifact:
        """The artifact as the next task's driver hands it over: ``GetOutputArtifactsByExecutionId`` (``Schema:
        ""``), ``OutputArtifact.ToRuntimeArtifact`` and ``toRuntimeArtifact``. ``keep_type``: Vertex AI's."""
        stored = self.artifacts[artifact_id]
        artifact = pipeline_spec_pb2.RuntimeArtifact(name=str(artifact_id), uri=stored["uri"])
        if keep_type:
            artifact.type.CopyFrom(stored["type"])
        else:
            artifact.type.instance_schema = ""
        metadata = {}
        for key, (kind, value) in stored["custom_properties"].items():
            metadata[key] = float(value) if kind == "int_value" else value
        json_format.ParseDict(metadata, artifact.metadata)
        return artifact


# The driver's placeholders in a runtime constant (driver/resolve.go), by what fills them in.
RUN_ID_PLACEHOLDER = "{{$.pipeline_job_uuid}}"


class TaskZygote:
    """``tests/task_zygote.py`` running in the tasks' environment: ``call`` runs a command in a forked child."""

    def __init__(self, env: Dict[str, str], work_dir: str):
        os.makedirs(work_dir, exist_ok=True)
        script = os.path.join(work_dir, "task_zygote.py")  # outside the checkout, as the tasks' own code is
        shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "task_zygote.py"), script)
        # A short path: a Unix socket's is limited to 107 bytes.
        self.socket_path = os.path.join(tempfile.mkdtemp(prefix="kfp-zygote-"), "socket")
        empty = os.path.join(work_dir, "zygote-cwd")
        os.makedirs(empty, exist_ok=True)
        self.process = subprocess.Popen(["python", script, self.socket_path], env=env, cwd=empty,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.process.stdout.readline().strip() != "ready":
            self.process.kill()
            raise RuntimeError(f"the task zygote did not start: {self.process.communicate()[1][-3000:]}")

    def call(self, argv: List[str], cwd: str, log: str) -> int:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(self.socket_path)
            connection.sendall((json.dumps({"argv": argv, "cwd": cwd, "log": log}) + "\n").encode())
            return json.loads(connection.makefile("r").readline())["status"]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(os.path.dirname(self.socket_path), ignore_errors=True)


class LauncherEmulation:
    """Executes the tasks of one run of a compiled pipeline, as driver and launcher would."""

    def __init__(self, spec: pipeline_spec_pb2.PipelineSpec, cluster: Cluster, env: Dict[str, str],
                 parameters: Optional[Dict[str, Any]] = None, pipeline_root: Optional[str] = None,
                 run_id: Optional[str] = None, vertex: bool = False, enable_caching: Optional[bool] = None,
                 work_dir: str = "/tmp", zygote: Optional[TaskZygote] = None,
                 store: Optional[object_store.S3Server] = None,
                 platform: Optional[pipeline_spec_pb2.PlatformSpec] = None):
        """``enable_caching``: a Vertex AI job's setting, which overrides every task's when not None.
        ``zygote``: starts the tasks' processes; without it, each is a fresh interpreter.
        ``store``: the S3 server of a ``minio://`` or ``s3://`` pipeline root. ``platform``: the package's
        PlatformSpec, whose volumes the tasks mount."""
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
        if enable_caching is not None and not vertex:
            raise ValueError("enable_caching is a Vertex AI job's setting; on KFP each task's cachingOptions decide")
        self.enable_caching = enable_caching
        self.work_dir = work_dir
        self.bucket: Optional[object_store.Bucket] = None
        if self.pipeline_root.startswith(S3_SCHEMES):
            if store is None:
                raise ValueError(f"pipeline root {self.pipeline_root}: give the S3 server that stands in for the store")
            self.bucket = object_store.Bucket(store.client(), object_store.split_uri(self.pipeline_root)[0])
        self.mounts: Dict[str, List[str]] = {}  # executor label -> mount paths
        if platform is not None and "kubernetes" in platform.platforms:
            executors = json_format.MessageToDict(platform.platforms["kubernetes"]).get(
                "deploymentSpec", {}).get("executors", {})
            self.mounts = {label: [m["mountPath"] for m in config.get("pvcMount", [])]
                           for label, config in executors.items()}
        self.zygote = zygote
        self.parameters = {
            name: json_format.MessageToDict(definition.default_value)
            for name, definition in spec.root.input_definitions.parameters.items()
            if definition.HasField("default_value")
        }
        self.parameters.update(parameters or {})
        self.artifact_ids: Dict[str, Dict[str, List[int]]] = {}  # task -> output key -> ML Metadata ids
        self.output_parameters: Dict[str, Dict[str, Any]] = {}
        self.seconds: Dict[str, float] = {}
        self.cached: List[str] = []
        self.logs: Dict[str, str] = {}
        self.executor_inputs: Dict[str, pipeline_spec_pb2.ExecutorInput] = {}

    @property
    def outputs(self) -> Dict[str, Dict[str, List[pipeline_spec_pb2.RuntimeArtifact]]]:
        """Every task's output artifacts, as a next task would be handed them."""
        return {task: {key: [self.cluster.runtime_artifact(i, keep_type=self.vertex) for i in ids]
                       for key, ids in outputs.items()}
                for task, outputs in self.artifact_ids.items()}

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

    def _caches(self, task) -> bool:
        return self.enable_caching if self.enable_caching is not None else task.caching_options.enable_cache

    def run_task(self, name: str) -> None:
        task = self.spec.root.dag.tasks[name]
        component = self.spec.components[task.component_ref.name]
        container = self.executors[component.executor_label].container
        task_root = f"{self.pipeline_root.rstrip('/')}/{self.spec.pipeline_info.name}/{self.run_id}/{name}/{uuid.uuid4()}"
        pod_dir = os.path.join(self.work_dir, f"{self.run_id}-{name}")
        os.makedirs(pod_dir)
        executor_input = self._executor_input(name, task, component, task_root, pod_dir)
        cwd = os.path.join(pod_dir, "workdir")
        os.makedirs(cwd)
        started = time.monotonic()
        log = []
        if self.vertex and container.HasField("lifecycle") and container.lifecycle.HasField("pre_cache_check"):
            # Vertex AI runs the hook first; the parameters it resolves are part of what the cache sees.
            hook = container.lifecycle.pre_cache_check
            log.append(self._call(name + " (preCacheCheck)", list(hook.command), list(hook.args),
                                  json_format.MessageToJson(executor_input), cwd))
            for key, value in self._read_executor_output(executor_input).parameter_values.items():
                executor_input.inputs.parameter_values[key].CopyFrom(value)
        key = (self.spec.pipeline_info.name, self.cluster.namespace, cache_fingerprint(executor_input, component, container))
        with self.cluster.lock:
            reused = self.cluster.cache.get(key) if self._caches(task) else None
        if reused:
            self.artifact_ids[name], self.output_parameters[name] = reused["artifacts"], reused["parameters"]
            self.cached.append(name)
            return
        self.executor_inputs[name] = executor_input
        if self.bucket is not None:
            self._check_mounts(name, component.executor_label, executor_input)
            self._download_inputs(executor_input, pod_dir)
        placeholders = self._placeholders(executor_input, pod_dir)
        log.append(self._call(name, list(container.command), list(container.args),
                              json_format.MessageToJson(executor_input), cwd, placeholders))
        self.seconds[name] = time.monotonic() - started
        self.logs[name] = "".join(log)
        if LOGS_KEY in executor_input.outputs.artifacts:
            logs_uri = executor_input.outputs.artifacts[LOGS_KEY].artifacts[0].uri
            logs_path = self._pod_path(pod_dir, logs_uri) if self.bucket is not None else logs_uri
            os.makedirs(os.path.dirname(logs_path), exist_ok=True)
            with open(logs_path, "w", encoding="utf-8") as f:
                f.write(self.logs[name])
        with self.cluster.lock:
            self.artifact_ids[name], self.output_parameters[name] = self._collect(executor_input, component, pod_dir)
            # The launcher creates the cache entry once the task succeeded.
            self.cluster.cache[key] = {"artifacts": self.artifact_ids[name], "parameters": self.output_parameters[name]}

    @staticmethod
    def _pod_path(pod_dir: str, uri: str) -> str:
        """``LocalPathForURI`` on this task's pod, whose disk is ``pod_dir``."""
        return os.path.join(pod_dir, local_path_for_uri(uri).lstrip("/"))

    def _check_mounts(self, name: str, executor_label: str, executor_input) -> None:
        """A path parameter must lie on a volume the pod mounts: nothing else of the cluster is on its disk."""
        mounts = self.mounts.get(executor_label, [])
        for key, value in executor_input.inputs.parameter_values.items():
            path = value.string_value
            if path.startswith("/") and not any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts):
                raise TaskFailed(f"{name}: parameter {key} names {path}, which is on no volume its pod mounts "
                                 f"({mounts or 'none'}); the step would find nothing there")

    def _download_inputs(self, executor_input, pod_dir: str) -> None:
        """``downloadArtifacts``, then ``prepareOutputFolders``."""
        for artifacts in executor_input.inputs.artifacts.values():
            for artifact in artifacts.artifacts:
                self.bucket.download(self._pod_path(pod_dir, artifact.uri), self._key(artifact.uri))
        for artifacts in executor_input.outputs.artifacts.values():
            for artifact in artifacts.artifacts:
                os.makedirs(os.path.dirname(self._pod_path(pod_dir, artifact.uri)), exist_ok=True)

    def _placeholders(self, executor_input, pod_dir: str) -> Dict[str, str]:
        """``getPlaceholders``: each artifact's ``.uri``, and ``.path`` where its URI has a local path."""
        placeholders = {}
        for side, artifact_lists in (("inputs", executor_input.inputs.artifacts),
                                     ("outputs", executor_input.outputs.artifacts)):
            for key, artifacts in artifact_lists.items():
                if not artifacts.artifacts:
                    continue
                uri = artifacts.artifacts[0].uri
                placeholders[f"{{{{$.{side}.artifacts['{key}'].uri}}}}"] = uri
                if uri.startswith(S3_SCHEMES):
                    placeholders[f"{{{{$.{side}.artifacts['{key}'].path}}}}"] = self._pod_path(pod_dir, uri)
        return placeholders

    def _call(self, what: str, command: List[str], args: List[str], serialized: str, cwd: str,
              placeholders: Optional[Dict[str, str]] = None) -> str:
        argv = [serialized if a == EXECUTOR_INPUT_PLACEHOLDER else a for a in command + args]
        for placeholder, value in (placeholders or {}).items():
            argv = [a.replace(placeholder, value) for a in argv]
        unresolved = [a for a in argv if "{{$" in a]
        if unresolved:
            raise NotImplementedError(f"{what}: placeholders this emulation does not resolve: {unresolved}")
        if self.zygote is None:
            result = subprocess.run(argv, env=self.env, cwd=cwd, capture_output=True, text=True, check=False)
            status, output = result.returncode, result.stdout + result.stderr
        else:
            log = os.path.join(os.path.dirname(cwd), f"{len(os.listdir(os.path.dirname(cwd)))}.log")
            status = self.zygote.call(argv, cwd, log)
            with open(log, encoding="utf-8", errors="replace") as f:
                output = f.read()
        if status != 0:
            raise TaskFailed(f"{what} exited with {status}:\n{output[-6000:]}")
        return output

    def _runtime_constant(self, value: struct_pb2.Value) -> struct_pb2.Value:
        """``resolvePodSpecInputRuntimeParameter``'s constants: the run's placeholders filled in."""
        if value.string_value == RUN_ID_PLACEHOLDER:
            return struct_pb2.Value(string_value=self.run_id)
        if value.string_value.startswith("{{$.pipeline_"):
            raise NotImplementedError(f"placeholder {value.string_value} is not emulated")
        return value

    def _executor_input(self, name, task, component, task_root, pod_dir) -> pipeline_spec_pb2.ExecutorInput:
        executor_input = pipeline_spec_pb2.ExecutorInput()
        for key, parameter in task.inputs.parameters.items():
            value = executor_input.inputs.parameter_values[key]
            if parameter.HasField("runtime_value"):
                value.CopyFrom(self._runtime_constant(parameter.runtime_value.constant))
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
                self.cluster.runtime_artifact(i, keep_type=self.vertex)
                for i in self.artifact_ids[source.producer_task][source.output_artifact_key])
        definitions = dict(component.output_definitions.artifacts)
        if self.cluster.publish_logs and not self.vertex:
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
            executor_input.outputs.parameters[key].output_file = os.path.join(pod_dir, "tmp", "kfp", "outputs", key)
            os.makedirs(os.path.dirname(executor_input.outputs.parameters[key].output_file), exist_ok=True)
        if self.vertex:
            executor_input.outputs.output_file = f"{task_root}/{VERTEX_OUTPUT_FILE}"
        elif self.bucket is not None:
            # LocalPathForURI(task root) + output_metadata.json, on the pod.
            executor_input.outputs.output_file = os.path.join(self._pod_path(pod_dir, task_root), OUTPUT_METADATA_FILE)
        else:
            # /gcs/BUCKET/... on a cluster; a folder of the pod here too.
            executor_input.outputs.output_file = os.path.join(pod_dir, "gcs", task_root.lstrip("/"), OUTPUT_METADATA_FILE)
        return executor_input

    @staticmethod
    def _read_executor_output(executor_input) -> pipeline_spec_pb2.ExecutorOutput:
        executor_output = pipeline_spec_pb2.ExecutorOutput()
        if os.path.exists(executor_input.outputs.output_file):
            with open(executor_input.outputs.output_file, encoding="utf-8") as f:
                json_format.Parse(f.read(), executor_output)  # strict, as protojson.Unmarshal
        return executor_output

    def _collect(self, executor_input, component, pod_dir: str):
        """Output artifacts (uploaded, recorded in ML Metadata) and parameters, as the launcher collects them."""
        executor_output = self._read_executor_output(executor_input)
        parameters = {name: json_format.MessageToDict(value) for name, value in executor_output.parameter_values.items()}
        for name, parameter in executor_input.outputs.parameters.items():
            if name not in parameters:
                kind = component.output_definitions.parameters[name].parameter_type
                with open(parameter.output_file, encoding="utf-8") as f:
                    text = f.read()
                parameters[name] = text if kind == pipeline_spec_pb2.ParameterType.STRING else json.loads(text)
        artifacts = {}
        for key, given in executor_input.outputs.artifacts.items():
            recorded = []
            for artifact in given.artifacts:
                merged = pipeline_spec_pb2.RuntimeArtifact()
                merged.CopyFrom(artifact)
                written = executor_output.artifacts[key].artifacts if key in executor_output.artifacts else []
                if written and key != LOGS_KEY:
                    if written[0].uri:
                        merged.uri = written[0].uri
                    merged.metadata.update(json_format.MessageToDict(written[0].metadata))
                if self.bucket is not None:
                    self._upload(merged.uri, pod_dir)
                recorded.append(self.cluster.record_artifact(key, merged))
            artifacts[key] = recorded
        return artifacts, parameters

    def _upload(self, uri: str, pod_dir: str) -> None:
        """``uploadOutputArtifacts``' upload of one output: skipped, as the launcher does, where its URI has no
        local path ("does not have a recognized storage URI") or nothing is there ("Local filepath does not
        exist")."""
        try:
            local = self._pod_path(pod_dir, uri)
        except ValueError:
            return
        try:
            self.bucket.upload(local, self._key(uri))
        except FileNotFoundError:
            pass

    def readable(self, uri: str) -> str:
        """A local folder with an artifact's files, for a test to read: a download from the store, or the folder."""
        if self.bucket is None:
            return uri
        local = os.path.join(tempfile.mkdtemp(prefix="artifact-", dir=self.work_dir), "artifact")
        self.bucket.download(local, self._key(uri))
        return local

    def _key(self, uri: str) -> str:
        """``KeyFromURI`` in the pipeline root's bucket; another bucket's artifacts are not emulated (the launcher
        would open it with the run's credentials for an input, and fail an output)."""
        bucket, key = object_store.split_uri(uri)
        if bucket != self.bucket.name:
            raise NotImplementedError(f"{uri}: an artifact outside the pipeline root's bucket {self.bucket.name}")
        return key

    def output_metadata(self, task: str, key: str) -> Dict[str, Any]:
        (artifact,) = self.outputs[task][key]
        return json_format.MessageToDict(artifact.metadata)

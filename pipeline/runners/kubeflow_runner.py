"""Compiles the pipeline for Kubeflow Pipelines (open source, YAML) or Vertex AI Pipelines (JSON).

A thin runner beside ``local_runner``: the same ``create_pipeline``, compiled by
TFX's ``KubeflowV2DagRunner`` into a KFP v2 spec, then fitted to what the backends
run (see ``fit_for_backends``). Artifacts live in Cloud Storage, or on open-source KFP
in MinIO or S3 as the launcher's local copies; the data and the serving folder in
Cloud Storage or on a volume the steps mount. The data root and the Trainer's settings
are pipeline parameters, set when a run is submitted. Compiling reads nothing there.
"""

import copy
import dataclasses
import json
import os
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import yaml
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.orchestration.kubeflow.v2.pipeline_builder import DEFAULT_IMAGE_PATH_KEY as DEFAULT_IMAGE_KEY

from components.model.hparams import HParams
from components.word2vec import Word2VecSettings
from pipeline.definition import factory, nodes
from pipeline.definition.data_shape import DataShape
from pipeline.definition.settings import PIPELINE_NAME, PipelineSettings
from pipeline.runners import kfp_container, locations, pod_resources
from pipeline.runners.locations import CompileError

TARGETS = {"kubeflow": ".yaml", "vertex": ".json"}  # the file format each one takes
# Pipeline parameters, set at submit time.
DATA_ROOT_PARAMETER = "data_root"
HPARAMS_PARAMETER = "hparams"
# Where the Dockerfile installs the project; Beam workers build it from its setup.py.
IMAGE_PROJECT_DIR = "/pipeline"
TRAINING_STEPS = pod_resources.STEP_GROUPS["training"]  # those that get the GPUs
# TFX's container entry point, which every compiled step names; replaced by the project's wrapper.
TFX_ENTRYPOINT = ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
PROJECT_ENTRYPOINT = ["python", "-m", "pipeline.runners.kfp_container", "executor"]
PROBE_COMMAND = ["python", "-m", "pipeline.runners.kfp_container", "probe"]
RUN_ID_PLACEHOLDER = "{{$.pipeline_job_uuid}}"


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """Where a compiled pipeline runs and reads: images, URIs, Beam engine, Trainer resources."""

    target: str
    image: str
    pipeline_root: str
    data_root: str
    serving_model_dir: str
    # What the data root holds (pipeline.data.describe_data_root); over spans: the window of the newest
    # spans, warm-started from the latest blessed model.
    data_shape: DataShape
    beam_pipeline_args: Tuple[str, ...] = ()
    gpus: int = 0
    gpu_type: Optional[str] = None
    gpu_image: Optional[str] = None
    enable_cache: bool = True
    word2vec: Word2VecSettings = Word2VecSettings()
    # Per group of steps or per step (pod_resources.STEP_GROUPS), over the defaults.
    resources: Mapping[str, pod_resources.PodSize] = dataclasses.field(default_factory=dict)
    # Where the GPU steps may run, on the kubeflow target: node labels, and the taint they tolerate ("" for none).
    gpu_node_selector: Mapping[str, str] = dataclasses.field(default_factory=dict)
    gpu_toleration: str = pod_resources.DEFAULT_GPU_TOLERATION
    # PersistentVolumeClaims every step mounts (claim -> mount path), on the kubeflow target: where the data and the
    # serving folder can be when they are not in a bucket.
    volumes: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def local_copies(self) -> bool:
        """Whether the steps work on the launcher's local copies of the artifacts (a MinIO or S3 pipeline root)."""
        return self.pipeline_root.startswith(kfp_container.LOCAL_COPY_SCHEMES)


def beam_args_for_image(beam_pipeline_args: Sequence[str]) -> list:
    """The Beam arguments, with the image's ``setup.py`` for the workers when none is named.

    Without ``--setup_file`` or ``--extra_packages``, TFX would build a ``tfx_ephemeral``
    package of the module files at run time; the project's own setup.py ships the
    installed packages instead (the executors are named by import path).
    """
    args = list(beam_pipeline_args)
    if args and not any(a.startswith(("--setup_file", "--extra_package")) for a in args):
        args.append(f"--setup_file={IMAGE_PROJECT_DIR}/setup.py")
    return args


def accelerator_resources(target: str, gpus: int, gpu_type: Optional[str]):
    """The container resources of the steps that train (Trainer, Word2Vec): ``gpus`` accelerators of
    ``gpu_type``, or None."""
    if not gpus:
        return None
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    spec.accelerator.type = gpu_type or pod_resources.DEFAULT_GPU_TYPES[target]
    spec.accelerator.count = gpus
    return spec


def check_uris(kubeflow: KubeflowSettings) -> None:
    """Every location the steps read or write at run time is one the image can reach (``locations``).

    Raises:
      CompileError: Otherwise, with the fix.
    """
    pairs = kubeflow.word2vec.word_pairs_file if kubeflow.word2vec.word2vec else None
    locations.check_locations(kubeflow.target, kubeflow.pipeline_root, kubeflow.data_root,
                              kubeflow.serving_model_dir, pairs, kubeflow.volumes, kubeflow.beam_pipeline_args)


def parameter_defaults(hparams: HParams, kubeflow: KubeflowSettings) -> dict:
    """The pipeline parameters and their compiled-in values."""
    return {DATA_ROOT_PARAMETER: kubeflow.data_root, HPARAMS_PARAMETER: json.dumps(hparams.to_dict(), sort_keys=True)}


def build_pipeline(hparams: HParams, settings: PipelineSettings, kubeflow: KubeflowSettings) -> tfx.dsl.Pipeline:
    """``create_pipeline`` with the data root and the Trainer's settings as pipeline parameters, and the
    steps that train given the GPUs asked for."""
    defaults = parameter_defaults(hparams, kubeflow)
    pipeline = factory.create_pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=kubeflow.pipeline_root,
        data_root=tfx.dsl.experimental.RuntimeParameter(
            name=DATA_ROOT_PARAMETER, ptype=str, default=defaults[DATA_ROOT_PARAMETER]),
        serving_model_dir=kubeflow.serving_model_dir,
        hparams=hparams,
        data_shape=kubeflow.data_shape,
        settings=settings,
        beam_pipeline_args=beam_args_for_image(kubeflow.beam_pipeline_args),
        enable_cache=kubeflow.enable_cache,
        trainer_hparams=tfx.dsl.experimental.RuntimeParameter(
            name=HPARAMS_PARAMETER, ptype=str, default=defaults[HPARAMS_PARAMETER]),
        warm_start=kubeflow.data_shape.spans,
        word2vec=kubeflow.word2vec,
    )
    resources = accelerator_resources(kubeflow.target, kubeflow.gpus, kubeflow.gpu_type)
    if resources is not None:
        for component in pipeline.components:
            if component.id in TRAINING_STEPS:
                component.with_platform_config(resources)
    return pipeline


def compile_pipeline(hparams: HParams, settings: PipelineSettings, kubeflow: KubeflowSettings, output: str) -> str:
    """Writes the KFP v2 spec of the pipeline to ``output`` and returns its path.

    Raises:
      CompileError: If the target is unknown, ``output`` has the wrong extension, a URI is one the
        image cannot reach, or the GPU type is not the target's.
    """
    if kubeflow.target not in TARGETS:
        raise CompileError(f"unknown target {kubeflow.target!r}. Fix: pass --target kubeflow or --target vertex.")
    extension = TARGETS[kubeflow.target]
    if not output.endswith(extension):
        raise CompileError(
            f"--output {output}: a {kubeflow.target} spec is written as {extension} "
            f"({'PipelineSpec YAML' if extension == '.yaml' else 'PipelineJob JSON'}). Fix: name the file *{extension}."
        )
    check_uris(kubeflow)
    if kubeflow.gpus:
        pod_resources.check_gpu_type(kubeflow.target, kubeflow.gpu_type or pod_resources.DEFAULT_GPU_TYPES[kubeflow.target])
    images = kubeflow.image
    if kubeflow.gpus and kubeflow.gpu_image:
        images = {DEFAULT_IMAGE_KEY: kubeflow.image, nodes.TRAINER: kubeflow.gpu_image}
        if kubeflow.word2vec.word2vec:
            images[nodes.WORD2VEC] = kubeflow.gpu_image
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=images, use_pipeline_spec_2_1=True),
    )
    defaults = parameter_defaults(hparams, kubeflow)
    job = runner.run(build_pipeline(hparams, settings, kubeflow), parameter_values=defaults, write_out=False)
    job["pipelineSpec"] = fit_for_backends(job["pipelineSpec"], kubeflow, defaults)
    if os.path.dirname(output):
        tfx.dsl.io.fileio.makedirs(os.path.dirname(output))
    with tfx.dsl.io.fileio.open(output, "w") as f:
        if extension == ".yaml":
            # The platform spec, kfp.Client's second document: the steps' volumes, the GPU steps' placement.
            platform = platform_spec(job["pipelineSpec"], kubeflow)
            f.write(f"# {PIPELINE_NAME}: KFP PipelineSpec compiled by {__name__} (TFX KubeflowV2DagRunner)"
                    f"{', then its PlatformSpec' if platform else ''}.\n")
            documents = [job["pipelineSpec"]] + ([platform] if platform else [])
            yaml.safe_dump_all(documents, f, sort_keys=True)
        else:
            json.dump(job, f, sort_keys=True, indent=1)
    return output


def fit_for_backends(pipeline_spec: Dict[str, Any], kubeflow: KubeflowSettings, defaults: Dict[str, str]
                     ) -> Dict[str, Any]:
    """What ``KubeflowV2DagRunner`` leaves out, for open-source KFP as its backend reads and for Vertex AI.

    - Parameter defaults and the pipeline root travel with the spec: the PipelineJob (Vertex)
      carries them in its runtime config, the PipelineSpec (open-source KFP) in its root
      inputs and ``defaultPipelineRoot``, which the runner leaves out.
    - Every step runs TFX's entry point through the project's wrapper, which takes the
      ExecutorInput as the backend hands it over (``pipeline/runners/kfp_container.py``).
    - Every step asks for the CPU and memory of its kind (``pod_resources``).
    - Under a MinIO or S3 pipeline root, every step is told where the launcher puts its copy of
      each artifact (``{{$.inputs.artifacts['KEY'].path}}``, which the launcher fills in).
    - The input probe runs first, never cached, and hands the ExampleGen its span, the
      fingerprint of the window and its resolved patterns, and the ServedModel steps the
      served version (see ``kfp_container``), so that the cache key of each changes exactly
      when its input does. TFX's ExampleGen driver hook (``preCacheCheck``, which only Vertex
      AI runs) is dropped on both targets: it fingerprints the newest span alone, with a
      request per file.
    """
    spec = copy.deepcopy(pipeline_spec)
    for name, parameter in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
        if name in defaults:
            parameter["defaultValue"] = defaults[name]
            parameter["isOptional"] = True
    spec["defaultPipelineRoot"] = kubeflow.pipeline_root
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor.get("container", {})
        if container.get("command") == TFX_ENTRYPOINT:
            container["command"] = list(PROJECT_ENTRYPOINT)
        # The ExampleGen's driver hook: the probe does its work, on both targets.
        container.pop("lifecycle", None)
    if kubeflow.local_copies:
        for component in spec["components"].values():
            container = spec["deploymentSpec"]["executors"][component["executorLabel"]].get("container", {})
            if container.get("command") == PROJECT_ENTRYPOINT:
                container["args"] = container.get("args", []) + _local_path_args(component)
    _add_input_probe(spec, kubeflow)
    for task_name, task in spec["root"]["dag"]["tasks"].items():
        container = spec["deploymentSpec"]["executors"][spec["components"][task["componentRef"]["name"]][
            "executorLabel"]]["container"]
        container.setdefault("resources", {}).update(pod_resources.container_resources(
            kubeflow.target, pod_resources.step_size(task_name, kubeflow.resources)))
    return spec


def _local_path_args(component: Dict[str, Any]) -> list:
    """The wrapper's flags naming the launcher's local copy of each artifact of a component."""
    args = []
    for flag, side, definitions in (
            (kfp_container.INPUT_PATH_FLAG, "inputs", component.get("inputDefinitions", {})),
            (kfp_container.OUTPUT_PATH_FLAG, "outputs", component.get("outputDefinitions", {}))):
        for key in sorted(definitions.get("artifacts", {})):
            args += [flag, f"{key}={{{{$.{side}.artifacts['{key}'].path}}}}"]
    return args


def platform_spec(pipeline_spec: Dict[str, Any], kubeflow: KubeflowSettings) -> Optional[Dict[str, Any]]:
    """The Kubernetes platform spec: the volumes of every step, the GPU steps' node selector and toleration;
    None when there is nothing to say."""
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    executors: Dict[str, Dict[str, Any]] = {}
    if kubeflow.volumes:
        for task in tasks.values():
            label = pipeline_spec["components"][task["componentRef"]["name"]]["executorLabel"]
            executors[label] = pod_resources.volume_executor_config(kubeflow.volumes)
    if kubeflow.gpus:
        gpu = pod_resources.gpu_executor_config(kubeflow.gpu_node_selector, kubeflow.gpu_toleration)
        for name in TRAINING_STEPS:
            if name in tasks:
                label = pipeline_spec["components"][tasks[name]["componentRef"]["name"]]["executorLabel"]
                executors.setdefault(label, {}).update(copy.deepcopy(gpu))
    executors = {label: config for label, config in executors.items() if config}
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}} if executors else None


def _add_input_probe(spec: Dict[str, Any], kubeflow: KubeflowSettings) -> None:
    """Adds the input probe's component, executor and task, and wires its outputs as parameters."""
    tasks = spec["root"]["dag"]["tasks"]
    example_gen = tasks[nodes.EXAMPLE_GEN]
    probe_inputs = {
        kfp_container.PROBE_INPUT_BASE: copy.deepcopy(example_gen["inputs"]["parameters"]["input_base"]),
        kfp_container.PROBE_INPUT_CONFIG: copy.deepcopy(example_gen["inputs"]["parameters"]["input_config"]),
        kfp_container.PROBE_CUSTOM_CONFIG: copy.deepcopy(example_gen["inputs"]["parameters"]["custom_config"]),
        kfp_container.PROBE_SERVING_MODEL_DIR: {"runtimeValue": {"constant": kubeflow.serving_model_dir}},
        # Filled in by KFP's driver (backend/src/v2/driver/resolve.go) and by Vertex AI with the run's id.
        kfp_container.PROBE_RUN_ID: {"runtimeValue": {"constant": RUN_ID_PLACEHOLDER}},
    }
    spec["components"][nodes.INPUT_PROBE] = {
        "executorLabel": f"{nodes.INPUT_PROBE}_executor",
        "inputDefinitions": {"parameters": {name: {"parameterType": "STRING"} for name in probe_inputs}},
        "outputDefinitions": {"parameters": {
            name: {"parameterType": kind} for name, kind in kfp_container.PROBE_OUTPUTS.items()}},
    }
    spec["deploymentSpec"]["executors"][f"{nodes.INPUT_PROBE}_executor"] = {"container": {
        "image": kubeflow.image, "command": list(PROBE_COMMAND), "args": ["--executor_input", "{{$}}"]}}
    # Never cached, so that every run looks at the data and the serving folder anew: no cachingOptions, and
    # the run's id among its inputs, for a Vertex AI job whose enable_caching=True caches every task.
    tasks[nodes.INPUT_PROBE] = {"componentRef": {"name": nodes.INPUT_PROBE}, "inputs": {"parameters": probe_inputs},
                                "taskInfo": {"name": nodes.INPUT_PROBE}}
    wiring = {nodes.SERVED_MODEL: (kfp_container.PROBE_SERVED_VERSION,),
              nodes.BASELINE_MODEL: (kfp_container.PROBE_SERVED_VERSION,),
              nodes.EXAMPLE_GEN: (kfp_container.PROBE_SPAN, kfp_container.PROBE_INPUT_FINGERPRINT,
                                  kfp_container.PROBE_INPUT_CONFIG)}
    for task_name, names in wiring.items():
        if task_name not in tasks:
            continue
        task = tasks[task_name]
        component = spec["components"][task["componentRef"]["name"]]
        for name in names:
            task["inputs"]["parameters"][name] = {
                "taskOutputParameter": {"producerTask": nodes.INPUT_PROBE, "outputParameterKey": name}}
            component["inputDefinitions"]["parameters"][name] = {
                "parameterType": kfp_container.PROBE_OUTPUTS[name]}
        task["dependentTasks"] = sorted({*task.get("dependentTasks", []), nodes.INPUT_PROBE})
        _update_inputs_spec_args(spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"],
                                 component["inputDefinitions"])


def _update_inputs_spec_args(container: Dict[str, Any], input_definitions: Dict[str, Any]) -> None:
    """TFX's entry point types the parameters, and the wrapper the inputs, by the inputs spec it is given."""
    serialized = json.dumps(input_definitions, indent=2, sort_keys=True)
    args = container.get("args", [])
    for index, arg in enumerate(args[:-1]):
        if arg == kfp_container.INPUTS_SPEC_FLAG:
            args[index + 1] = serialized

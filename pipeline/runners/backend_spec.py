"""What TFX's ``KubeflowV2DagRunner`` leaves out of a compiled spec, added for the backends that run it.

Open-source Kubeflow Pipelines (as its backend source reads) and Vertex AI Pipelines: parameter
defaults and the pipeline root in the spec, the project's entry point around TFX's, each step's
resources, the launcher's local copies of artifacts, the input probe and its wiring, and the
Kubernetes platform spec (volumes, GPU placement). Plain dictionaries in, plain dictionaries out:
no TFX is loaded here.
"""

import copy
import json
from typing import TYPE_CHECKING, Any, Dict, Optional

from pipeline.definition import nodes
from pipeline.runners import kfp_container, pod_resources

if TYPE_CHECKING:
    from pipeline.runners.kubeflow_runner import KubeflowSettings

# TFX's container entry point, which every compiled step names; replaced by the project's wrapper.
TFX_ENTRYPOINT = ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
PROJECT_ENTRYPOINT = ["python", "-m", "pipeline.runners.kfp_container", "executor"]
PROBE_COMMAND = ["python", "-m", "pipeline.runners.kfp_container", "probe"]
RUN_ID_PLACEHOLDER = "{{$.pipeline_job_uuid}}"
TRAINING_STEPS = pod_resources.STEP_GROUPS["training"]  # those that get the GPUs


def fit_for_backends(pipeline_spec: Dict[str, Any], kubeflow: "KubeflowSettings", defaults: Dict[str, str]
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


def platform_spec(pipeline_spec: Dict[str, Any], kubeflow: "KubeflowSettings") -> Optional[Dict[str, Any]]:
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


def _add_input_probe(spec: Dict[str, Any], kubeflow: "KubeflowSettings") -> None:
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

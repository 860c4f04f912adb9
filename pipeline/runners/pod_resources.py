"""Each compiled step's pod: CPU and memory by what the step does, and where the GPU steps may run.

Plain data and checks, no TFX: ``compile`` refuses a bad ``--resources`` before TensorFlow loads.

What the backends make of it:
- Open-source KFP: the driver turns ``cpuRequest``, ``memoryRequest`` and ``memoryLimit`` into the
  main container's requests and limit (``backend/src/v2/driver/driver.go``, ``initPodSpecPatch``;
  memory is written ``"%vG"``, decimal gigabytes), and the accelerator into a limit named by its type.
  Node selectors and tolerations come from the platform spec
  (``platforms.kubernetes.deploymentSpec.executors.<executor>``, kfp-kubernetes'
  ``KubernetesExecutorConfig``), which ``kfp.Client`` reads as the package's second YAML document.
- Vertex AI: ``cpuLimit`` and ``memoryLimit`` choose the machine; it has no node selectors.
- Neither backend's spec has a field for ephemeral storage (kubeflow/pipelines#11137): the launcher
  copies every input artifact to the pod's disk, which only the nodes' own disk bounds.
"""

import ast
import dataclasses
import importlib.util
import os
import re
from typing import Dict, Iterable, Mapping, Sequence, Tuple

from pipeline.definition import nodes
from pipeline.runners.locations import CompileError


@dataclasses.dataclass(frozen=True)
class PodSize:
    cpu: float  # cores
    memory_gb: float  # decimal gigabytes, as KFP writes them


# Steps by what they do: Beam steps hold a shard of the data per worker (the DirectRunner runs in the
# pod itself unless --beam-arg sends the work elsewhere), the training steps the model and its batches,
# the rest little more than their imports (TFX's entry point peaks at 0.8 GB resident once imported).
STEP_GROUPS: Dict[str, Tuple[str, ...]] = {
    "beam": (nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN, nodes.TRANSFORM, nodes.EVALUATOR),
    "training": (nodes.TRAINER, nodes.WORD2VEC),
    "light": (nodes.INPUT_PROBE, nodes.SCHEMA_GEN, nodes.EXAMPLE_VALIDATOR, nodes.DATA_VALIDATION_GATE,
              nodes.SERVED_MODEL, nodes.BASELINE_MODEL, nodes.PROJECTOR_EXPORTER, nodes.PUSHER),
}
DEFAULT_SIZES: Dict[str, PodSize] = {
    "beam": PodSize(cpu=2, memory_gb=8), "training": PodSize(cpu=4, memory_gb=16), "light": PodSize(cpu=1, memory_gb=3)}
RESOURCES_HELP = (
    "CPU cores and memory (decimal GB) of a group of steps or of one step, GROUP_OR_STEP=CPU,MEMORY, e.g. "
    "beam=4,16 (repeatable). Groups and defaults: " + "; ".join(
        f"{group} {size.cpu:g},{size.memory_gb:g} ({', '.join(STEP_GROUPS[group])})"
        for group, size in DEFAULT_SIZES.items()))
# The taint GKE and the NVIDIA GPU operator put on GPU nodes, which the GPU steps tolerate by default.
DEFAULT_GPU_TOLERATION = "nvidia.com/gpu"
_RESOURCES = re.compile(r"^(?P<name>[A-Za-z0-9_]+)=(?P<cpu>[0-9.]+),(?P<memory>[0-9.]+)[Gg]?$")


def parse_resources(values: Iterable[str]) -> Dict[str, PodSize]:
    """The ``--resources`` overrides, by group or step name.

    Raises:
      ValueError: For a malformed value, an unknown name or a size of zero, with the fix.
    """
    known = {*STEP_GROUPS, *(step for steps in STEP_GROUPS.values() for step in steps)}
    overrides = {}
    for value in values:
        match = _RESOURCES.match(value)
        if not match:
            raise ValueError(f"--resources {value!r} is not GROUP_OR_STEP=CPU,MEMORY. Fix: e.g. --resources beam=4,16 "
                             f"(4 cores, 16 GB for the Beam steps).")
        if match["name"] not in known:
            raise ValueError(f"--resources {value!r}: no group or step {match['name']!r}. Fix: name one of "
                             f"{', '.join(STEP_GROUPS)} or a step: {', '.join(sorted(known - set(STEP_GROUPS)))}.")
        try:
            size = PodSize(cpu=float(match["cpu"]), memory_gb=float(match["memory"]))
        except ValueError as err:
            raise ValueError(f"--resources {value!r}: {err}. Fix: pass numbers, e.g. beam=4,16.") from err
        if size.cpu <= 0 or size.memory_gb <= 0:
            raise ValueError(f"--resources {value!r}: CPU and memory must be more than 0. Fix: e.g. beam=4,16.")
        overrides[match["name"]] = size
    return overrides


def step_size(step: str, overrides: Mapping[str, PodSize]) -> PodSize:
    """A step's size: its own override, else its group's, else the group's default.

    Raises:
      ValueError: For a step of no group (a step added to the pipeline but not to ``STEP_GROUPS``).
    """
    group = next((name for name, steps in STEP_GROUPS.items() if step in steps), None)
    if group is None:
        raise ValueError(f"step {step} is in no group of pod_resources.STEP_GROUPS. Fix: add it to the group whose "
                         f"resources it needs.")
    return overrides.get(step) or overrides.get(group) or DEFAULT_SIZES[group]


def container_resources(target: str, size: PodSize) -> Dict[str, float]:
    """The ``resources`` of a compiled container (kfp-pipeline-spec 0.2.2's ResourceSpec fields)."""
    if target == "vertex":
        return {"cpuLimit": size.cpu, "memoryLimit": size.memory_gb}
    # Memory requested and capped alike: a step past it is killed with a clear OOMKilled, not its node.
    return {"cpuRequest": size.cpu, "memoryRequest": size.memory_gb, "memoryLimit": size.memory_gb}


def parse_node_selector(values: Sequence[str]) -> Dict[str, str]:
    """``--gpu-node-selector LABEL=VALUE`` values as a dict.

    Raises:
      ValueError: For a value without ``=``.
    """
    labels = {}
    for value in values:
        label, equals, label_value = value.partition("=")
        if not equals or not label:
            raise ValueError(f"--gpu-node-selector {value!r} is not LABEL=VALUE. Fix: e.g. --gpu-node-selector "
                             f"cloud.google.com/gke-accelerator=nvidia-tesla-t4.")
        labels[label] = label_value
    return labels


def gpu_executor_config(node_selector: Mapping[str, str], toleration: str) -> dict:
    """kfp-kubernetes' ``KubernetesExecutorConfig`` of a GPU step: its node selector and toleration."""
    config: dict = {}
    if toleration:
        config["tolerations"] = [{"key": toleration, "operator": "Exists", "effect": "NoSchedule"}]
    if node_selector:
        config["nodeSelector"] = {"labels": dict(node_selector)}
    return config


# A PersistentVolumeClaim's name, which KFP's driver also gives the pod's volume (driver/k8s.go,
# makeVolumeMountPatch): a DNS-1123 label.
CLAIM_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Folders of the pod that KFP uses itself: the launcher's copies of artifacts (launcher_v2.go, LocalPathForURI),
# its binary and the user's caches (argocompiler/container.go), the workspace (driver.go, validateVolumeMounts).
RESERVED_FOLDERS = ("/gcs", "/minio", "/s3", "/oci", "/kfp-launcher", "/kfp-workspace", "/.local", "/.cache",
                    "/.config")


def parse_volumes(values: Sequence[str]) -> Dict[str, str]:
    """``--volume CLAIM=MOUNT_PATH`` values as a dict.

    Raises:
      ValueError: For a value that is not CLAIM=/ABSOLUTE/PATH, a claim or a mount path named twice, or a mount
        over KFP's own folders.
    """
    volumes: Dict[str, str] = {}
    for value in values:
        claim, equals, mount = value.partition("=")
        mount = mount.rstrip("/")
        if not equals or not CLAIM_NAME.match(claim) or not mount.startswith("/"):
            raise ValueError(f"--volume {value!r} is not CLAIM=MOUNT_PATH (a PersistentVolumeClaim's name: lower-case "
                             f"letters, digits and '-', at most 63; an absolute path other than /). Fix: e.g. "
                             f"--volume imdb-data=/mnt/imdb.")
        if claim in volumes or mount in volumes.values():
            raise ValueError(f"--volume {value!r}: {'claim ' + claim if claim in volumes else 'path ' + mount} is "
                             f"named twice. Fix: mount each claim once, each at a path of its own.")
        reserved = [f for f in RESERVED_FOLDERS if mount == f or mount.startswith(f + "/") or f.startswith(mount + "/")]
        if reserved:
            raise ValueError(f"--volume {value!r} mounts over {reserved[0]}, which KFP uses itself. Fix: mount it "
                             f"elsewhere, e.g. /mnt/imdb.")
        volumes[claim] = mount
    return volumes


def volume_executor_config(volumes: Mapping[str, str]) -> dict:
    """kfp-kubernetes' ``KubernetesExecutorConfig`` of a step that mounts the claims: the claim as ``constant``,
    which every KFP 2 backend reads (from 2.5 as the fallback of ``pvcNameParameter``, ``driver/k8s.go``,
    ``makeVolumeMountPatch``; before 2.5 the only field, where ``pvcNameParameter`` would be refused)."""
    return {"pvcMount": [{"constant": claim, "mountPath": mount} for claim, mount in sorted(volumes.items())]}


DEFAULT_GPU_TYPES = {"kubeflow": "nvidia.com/gpu", "vertex": "NVIDIA_TESLA_T4"}

# A Kubernetes extended resource name, domain first: what KFP's driver puts into the pod's limits.
KUBERNETES_RESOURCE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/"
                                      r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


# Where the Vertex AI client library declares its accelerators (google-cloud-aiplatform, pinned).
_ACCELERATOR_TYPE_SOURCE = os.path.join("aiplatform_v1", "types", "accelerator_type.py")


def vertex_accelerator_types() -> Tuple[str, ...]:
    """Vertex AI's GPU accelerator names: the members of its client library's ``AcceleratorType`` enum.

    Read from the library's source, not imported: importing ``google.cloud.aiplatform_v1`` takes
    seconds, and ``compile`` refuses a bad ``--gpu-type`` before anything heavy loads. A test holds
    the two equal.
    """
    locations = importlib.util.find_spec("google.cloud").submodule_search_locations
    for folder in locations:
        path = os.path.join(folder, _ACCELERATOR_TYPE_SOURCE)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            enum = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "AcceleratorType")
            return tuple(target.id for node in enum.body if isinstance(node, ast.Assign) for target in node.targets
                         if isinstance(target, ast.Name) and target.id.startswith("NVIDIA_"))
    raise ImportError(f"google-cloud-aiplatform is not installed ({_ACCELERATOR_TYPE_SOURCE} not found)")


def check_gpu_type(target: str, gpu_type: str) -> None:
    """A Kubernetes resource name for ``kubeflow``, one of Vertex AI's accelerator names for ``vertex``.

    Raises:
      CompileError: Otherwise, with the fix.
    """
    if target == "kubeflow" and not KUBERNETES_RESOURCE_NAME.match(gpu_type):
        raise CompileError(
            f"--gpu-type {gpu_type} is not a Kubernetes resource name; Kubeflow Pipelines asks Kubernetes for "
            f"that resource by name, and no node offers it. Fix: pass the resource your GPU nodes offer, "
            f"e.g. --gpu-type nvidia.com/gpu or --gpu-type amd.com/gpu (the GPU model is the nodes' own).")
    if target == "vertex" and gpu_type not in vertex_accelerator_types():
        raise CompileError(f"--gpu-type {gpu_type} is not a Vertex AI accelerator. Fix: pass one of "
                           f"{', '.join(vertex_accelerator_types())}.")

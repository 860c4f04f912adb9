"""Compiles the pipeline for Kubeflow Pipelines (open source, YAML) or Vertex AI Pipelines (JSON).

A thin runner beside ``local_runner``: the same ``create_pipeline``, compiled by
TFX's ``KubeflowV2DagRunner`` into a KFP v2 spec, then fitted to what the backends
run (``backend_spec``). Artifacts live in Cloud Storage, or on open-source KFP
in MinIO or S3 as the launcher's local copies; the data and the serving folder in
Cloud Storage or on a volume the steps mount. The data root and the Trainer's settings
are pipeline parameters, set when a run is submitted. Compiling reads nothing there.
"""

import dataclasses
import json
import os
from typing import Mapping, Optional, Sequence, Tuple

import yaml
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.orchestration.kubeflow.v2.pipeline_builder import DEFAULT_IMAGE_PATH_KEY as DEFAULT_IMAGE_KEY

from components.model.hparams import HParams
from components.word2vec import Word2VecSettings
from pipeline.definition import factory, nodes
from pipeline.definition.data_shape import DataShape
from pipeline.definition.settings import PIPELINE_NAME, PipelineSettings
from pipeline.runners import backend_spec, kfp_container, locations, pod_resources
from pipeline.runners.locations import CompileError
from pipeline.runners.run_parameters import DATA_ROOT_PARAMETER, HPARAMS_PARAMETER

TARGETS = {"kubeflow": ".yaml", "vertex": ".json"}  # the file format each one takes
# Where the Dockerfile installs the project; Beam workers build it from its setup.py.
IMAGE_PROJECT_DIR = "/pipeline"
TRAINING_STEPS = backend_spec.TRAINING_STEPS  # those that get the GPUs


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
    job["pipelineSpec"] = backend_spec.fit_for_backends(job["pipelineSpec"], kubeflow, defaults)
    if os.path.dirname(output):
        tfx.dsl.io.fileio.makedirs(os.path.dirname(output))
    with tfx.dsl.io.fileio.open(output, "w") as f:
        if extension == ".yaml":
            # The platform spec, kfp.Client's second document: the steps' volumes, the GPU steps' placement.
            platform = backend_spec.platform_spec(job["pipelineSpec"], kubeflow)
            f.write(f"# {PIPELINE_NAME}: KFP PipelineSpec compiled by {__name__} (TFX KubeflowV2DagRunner)"
                    f"{', then its PlatformSpec' if platform else ''}.\n")
            documents = [job["pipelineSpec"]] + ([platform] if platform else [])
            yaml.safe_dump_all(documents, f, sort_keys=True)
        else:
            json.dump(job, f, sort_keys=True, indent=1)
    return output

"""Compiles the pipeline for Kubeflow Pipelines (open source, YAML) or Vertex AI Pipelines (JSON).

A thin runner beside ``local_runner``: the same ``create_pipeline``, compiled by
TFX's ``KubeflowV2DagRunner`` into a KFP v2 spec. Paths are URIs (``gs://``,
``s3://`` or local); the data root and the Trainer's settings are pipeline
parameters, set when a run is submitted.
"""

import dataclasses
import json
import os
from typing import Optional, Sequence, Tuple

import yaml
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.orchestration.kubeflow.v2.pipeline_builder import DEFAULT_IMAGE_PATH_KEY as DEFAULT_IMAGE_KEY

from components.model.hparams import HParams
from components.word2vec import Word2VecSettings
from pipeline import factory, nodes
from pipeline.settings import PIPELINE_NAME, PipelineSettings

TARGETS = {"kubeflow": ".yaml", "vertex": ".json"}  # the file format each one takes
# Pipeline parameters, set at submit time.
DATA_ROOT_PARAMETER = "data_root"
HPARAMS_PARAMETER = "hparams"
# Where the Dockerfile installs the project; Beam workers build it from its setup.py.
IMAGE_PROJECT_DIR = "/pipeline"
DEFAULT_GPU_TYPES = {"kubeflow": "nvidia.com/gpu", "vertex": "NVIDIA_TESLA_T4"}


class CompileError(ValueError):
    """A compile setting cannot work; the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """Where a compiled pipeline runs and reads: images, URIs, Beam engine, Trainer resources."""

    target: str
    image: str
    pipeline_root: str
    data_root: str
    serving_model_dir: str
    include_test_split: bool
    beam_pipeline_args: Tuple[str, ...] = ()
    gpus: int = 0
    gpu_type: Optional[str] = None
    gpu_image: Optional[str] = None
    enable_cache: bool = True
    # A data root of span-N/ folders: the window of the newest spans, warm-started from the latest blessed model.
    spans: bool = False
    word2vec: Word2VecSettings = Word2VecSettings()
    # With Word2Vec: the data root has train/unsup/ to read into the unsup split.
    unsup: bool = False


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


def trainer_resources(target: str, gpus: int, gpu_type: Optional[str]):
    """The Trainer's container resources: ``gpus`` accelerators of ``gpu_type``, or None."""
    if not gpus:
        return None
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    spec.accelerator.type = gpu_type or DEFAULT_GPU_TYPES[target]
    spec.accelerator.count = gpus
    return spec


def parameter_defaults(hparams: HParams, kubeflow: KubeflowSettings) -> dict:
    """The pipeline parameters and their compiled-in values."""
    return {DATA_ROOT_PARAMETER: kubeflow.data_root, HPARAMS_PARAMETER: json.dumps(hparams.to_dict(), sort_keys=True)}


def build_pipeline(hparams: HParams, settings: PipelineSettings, kubeflow: KubeflowSettings) -> tfx.dsl.Pipeline:
    """``create_pipeline`` with the data root and the Trainer's settings as pipeline parameters."""
    defaults = parameter_defaults(hparams, kubeflow)
    return factory.create_pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=kubeflow.pipeline_root,
        data_root=tfx.dsl.experimental.RuntimeParameter(
            name=DATA_ROOT_PARAMETER, ptype=str, default=defaults[DATA_ROOT_PARAMETER]),
        serving_model_dir=kubeflow.serving_model_dir,
        hparams=hparams,
        include_test_split=kubeflow.include_test_split,
        settings=settings,
        beam_pipeline_args=beam_args_for_image(kubeflow.beam_pipeline_args),
        enable_cache=kubeflow.enable_cache,
        trainer_hparams=tfx.dsl.experimental.RuntimeParameter(
            name=HPARAMS_PARAMETER, ptype=str, default=defaults[HPARAMS_PARAMETER]),
        trainer_resources=trainer_resources(kubeflow.target, kubeflow.gpus, kubeflow.gpu_type),
        spans=kubeflow.spans,
        warm_start=kubeflow.spans,
        # KubeflowV2DagRunner compiles TFX's own resolver strategies only.
        baseline_excludes_candidate=False,
        word2vec=kubeflow.word2vec,
        include_unsup_split=kubeflow.unsup,
        word2vec_resources=trainer_resources(kubeflow.target, kubeflow.gpus, kubeflow.gpu_type),
    )


def compile_pipeline(hparams: HParams, settings: PipelineSettings, kubeflow: KubeflowSettings, output: str) -> str:
    """Writes the KFP v2 spec of the pipeline to ``output`` and returns its path.

    Raises:
      CompileError: If the target is unknown or ``output`` has the wrong extension.
    """
    if kubeflow.target not in TARGETS:
        raise CompileError(f"unknown target {kubeflow.target!r}. Fix: pass --target kubeflow or --target vertex.")
    extension = TARGETS[kubeflow.target]
    if not output.endswith(extension):
        raise CompileError(
            f"--output {output}: a {kubeflow.target} spec is written as {extension} "
            f"({'PipelineSpec YAML' if extension == '.yaml' else 'PipelineJob JSON'}). Fix: name the file *{extension}."
        )
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
    # The PipelineJob (Vertex) carries the defaults in its runtime config; the PipelineSpec
    # (open-source KFP) in its root inputs, which KubeflowV2DagRunner leaves without them.
    job = runner.run(build_pipeline(hparams, settings, kubeflow), parameter_values=defaults, write_out=False)
    for name, spec in job["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {}).items():
        if name in defaults:
            spec["defaultValue"] = defaults[name]
            spec["isOptional"] = True
    if os.path.dirname(output):
        tfx.dsl.io.fileio.makedirs(os.path.dirname(output))
    with tfx.dsl.io.fileio.open(output, "w") as f:
        if extension == ".yaml":
            f.write(f"# {PIPELINE_NAME}: KFP PipelineSpec compiled by {__name__} (TFX KubeflowV2DagRunner).\n")
            yaml.safe_dump(job["pipelineSpec"], f, sort_keys=True)
        else:
            json.dump(job, f, sort_keys=True, indent=1)
    return output

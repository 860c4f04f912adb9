"""Each compiled step's pod: CPU and memory by the kind of step, overridable per group or step, for each target's
fields; the GPU steps' toleration and node selector in the PlatformSpec that kfp.Client sends with the spec."""

import json
import subprocess
import sys

import pytest
from google.protobuf import json_format
from kfp.client import client as kfp_client
from kfp.pipeline_spec import pipeline_spec_pb2

from components.word2vec import Word2VecSettings
from pipeline.definition import nodes
from pipeline.definition.settings import PipelineSettings
from pipeline.runners import kubeflow_runner, pod_resources
from tests import kfp_launcher
from tests.kubeflow_fixtures import HPARAMS, ROOT
from tests.kubeflow_fixtures import kubeflow_settings as _kubeflow


def _containers(spec):
    executors = kfp_launcher.deployment_config(spec).executors
    return {name: executors[spec.components[task.component_ref.name].executor_label].container
            for name, task in spec.root.dag.tasks.items()}


def test_every_step_asks_for_the_cpu_and_memory_of_its_kind_and_an_override_wins(tmp_path):
    overrides = pod_resources.parse_resources(["beam=4,16", "Transform=6,24G"])
    assert pod_resources.parse_resources(["Word2Vec=2,4"]) == {"Word2Vec": pod_resources.PodSize(cpu=2, memory_gb=4)}
    kubeflow = _kubeflow(resources=overrides)
    containers = _containers(kfp_launcher.load_pipeline_spec(
        kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "p.yaml"))))
    assert set(containers) == {*pod_resources.STEP_GROUPS["beam"], nodes.TRAINER,
                               *pod_resources.STEP_GROUPS["light"]} - {nodes.SERVED_MODEL}  # no spans, no warm start
    sizes = {name: (c.resources.cpu_request, c.resources.memory_request, c.resources.memory_limit)
             for name, c in containers.items()}
    assert sizes[nodes.TRANSFORM] == (6, 24, 24)
    assert sizes[nodes.STATISTICS_GEN] == sizes[nodes.EVALUATOR] == (4, 16, 16)
    assert sizes[nodes.TRAINER] == (4, 16, 16) and sizes[nodes.PUSHER] == sizes[nodes.INPUT_PROBE] == (1, 3, 3)
    # Vertex AI chooses the machine by the limits.
    vertex = _kubeflow(target="vertex")
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), vertex, str(tmp_path / "p.json"))
    spec, _ = _vertex_spec(output)
    trainer = _containers(spec)[nodes.TRAINER].resources
    assert (trainer.cpu_limit, trainer.memory_limit, trainer.cpu_request) == (4, 16, 0)


def _vertex_spec(output):
    with open(output, encoding="utf-8") as f:
        job = json.load(f)
    return json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec()), job


def test_the_gpu_steps_tolerate_the_gpu_taint_and_select_their_nodes_in_the_platform_spec(tmp_path):
    kubeflow = _kubeflow(gpus=1, unsup_split=True, word2vec=Word2VecSettings(word2vec=True),
                         gpu_node_selector={"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"})
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "gpu.yaml"))
    # What kfp.Client sends to the API server: the spec and, from the second document, the platform spec.
    package = kfp_client._extract_pipeline_yaml(output)  # pylint: disable=protected-access
    spec, platform = kfp_launcher.load_package(output)
    assert package.pipeline_spec == spec and package.platform_spec == platform
    executors = platform.platforms["kubernetes"].deployment_spec.executors
    labels = {spec.components[spec.root.dag.tasks[step].component_ref.name].executor_label: step
              for step in (nodes.TRAINER, nodes.WORD2VEC)}
    assert set(executors) == set(labels)
    for label in labels:
        config = json_format.MessageToDict(executors[label])
        assert config["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        assert config["nodeSelector"] == {"labels": {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}}
    # Without a GPU, one document as before; kfp.Client finds no platform spec.
    plain = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), _kubeflow(), str(tmp_path / "cpu.yaml"))
    assert kfp_client._extract_pipeline_yaml(plain).platform_spec == type(platform)()  # pylint: disable=protected-access
    with open(plain, encoding="utf-8") as f:
        assert "\n---" not in f.read()


@pytest.mark.parametrize("options, message", [
    (["--resources", "beam=4"], "is not GROUP_OR_STEP=CPU,MEMORY. Fix: e.g. --resources beam=4,16"),
    (["--resources", "gpu=4,16"], "no group or step 'gpu'. Fix: name one of beam, training, light or a step: "),
    (["--resources", "Trainer=0,16"], "CPU and memory must be more than 0"),
    (["--gpu-toleration", "nvidia.com/gpu"], "only --target kubeflow with --gpu N has. Fix: add --gpu N"),
    (["--gpu", "1", "--target", "vertex", "--gpu-node-selector", "pool=gpu"], "only --target kubeflow with --gpu N"),
])
def test_a_bad_pod_option_is_refused_before_tensorflow_loads(options, message):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "pipeline.py", "compile", "--image", "i:1", "--pipeline-root", "gs://b/r",
         "--data-root", "gs://b/d", *options], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    error = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert len(error) == 1 and message in error[0], result.stderr[-2000:]
    assert "tensorflow" not in {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                                if line.startswith("import time:")}

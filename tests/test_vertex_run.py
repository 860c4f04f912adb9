"""The compiled Vertex AI PipelineJob, run as Vertex AI Pipelines would (``tests/kfp_launcher.py`` with
``vertex=True``): submitted with ``enable_caching=True``, which caches every task whatever its own setting. One
span, pushed; then a run with nothing new, right after that push: only the probe runs, nothing is trained or
pushed."""

import os

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from components.model.hparams import HParams
from pipeline.definition import nodes
from pipeline.definition.settings import PipelineSettings
from tests import corpus, kfp_launcher, kubeflow_fixtures

pytestmark = pytest.mark.e2e

HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=10, batch_size=32, learning_rate=0.01)


@pytest.fixture(scope="module")
def vertex_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vertex-run")
    task_env = kubeflow_fixtures.task_environment(tmp_path_factory.mktemp("image"))
    data_root, serving = str(tmp / "spans"), str(tmp / "serving_model")
    output = kubeflow_fixtures.compile_over_spans_for_emulation(tmp, "vertex", HPARAMS, PipelineSettings())
    with open(output, encoding="utf-8") as f:
        job = json_format.Parse(f.read(), pipeline_spec_pb2.PipelineJob())
    spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pipeline_spec_pb2.PipelineSpec())
    corpus.write_corpus(os.path.join(data_root, "span-1"), train_per_label=60, test_per_label=None, seed=1)
    cluster = kfp_launcher.Cluster(publish_logs=False)
    zygote = kfp_launcher.TaskZygote(task_env, str(tmp / "zygote"))
    runs = []
    try:
        for number in (1, 2):
            emulation = kfp_launcher.LauncherEmulation(
                spec, cluster, task_env, pipeline_root=job.runtime_config.gcs_output_directory, run_id=f"job-{number}",
                vertex=True, enable_caching=True, work_dir=str(tmp / "pods"), zygote=zygote)
            runs.append(kubeflow_fixtures.run_and_record(emulation, serving, f"vertex run {number}"))
    finally:
        zygote.close()
    return spec, runs


def test_the_first_run_trains_and_pushes(vertex_runs):
    spec, runs = vertex_runs
    emulation, before, after = runs[0]
    assert emulation.cached == [] and set(emulation.seconds) == set(spec.root.dag.tasks)
    assert emulation.output_metadata(nodes.EXAMPLE_GEN, "examples")["custom:span"] == 1
    assert emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed"] == 1
    assert before == {} and after


def test_with_nothing_new_the_probe_alone_runs_though_the_job_caches_every_task(vertex_runs):
    spec, runs = vertex_runs
    emulation, before, after = runs[1]
    assert list(emulation.seconds) == [nodes.INPUT_PROBE]
    assert set(emulation.cached) == set(spec.root.dag.tasks) - {nodes.INPUT_PROBE}
    assert emulation.executor_inputs[nodes.INPUT_PROBE].inputs.parameter_values["run_id"].string_value == "job-2"
    assert after == before

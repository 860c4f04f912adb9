"""Kubeflow compile: the backends' rules (only container executors, the GPU type per target, Vertex AI's
PipelineJob JSON), roots and files the image cannot reach refused, no path of this checkout and no credential of
the compiling machine in the spec, and compile told the data's shape without looking under the data root."""

import json
import os

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from components.model.hparams import PRESETS
from components.word2vec import Word2VecSettings
from pipeline import cli, data
from pipeline.definition import factory, nodes
from pipeline.definition.settings import PipelineSettings
from pipeline.runners import kubeflow_runner, pod_resources
from tests import corpus, kfp_launcher
from tests.kubeflow_fixtures import HPARAMS, ROOT
from tests.kubeflow_fixtures import kubeflow_settings as _kubeflow

BEAM_NODES = {nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN, nodes.TRANSFORM, nodes.EVALUATOR}
# Planted in the environment of the compiling process: none may reach the compiled file.
SECRETS = {"KF_PIPELINES_SA_TOKEN_PATH": "/var/run/secrets/kf-token-7f3a9c",
           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY",
           "GOOGLE_APPLICATION_CREDENTIALS": "/secrets/sa-key-5d2e1b.json"}


def test_no_path_of_this_checkout_in_any_compiled_spec(tmp_path):
    pairs = "gs://bucket/wordsim353.tsv"
    for target, extension in kubeflow_runner.TARGETS.items():
        for preset, hparams in PRESETS.items():
            kubeflow = _kubeflow(target=target, unsup_split=True, spans=preset == "tutorial",
                                 word2vec=Word2VecSettings(word2vec=True, word_pairs_file=pairs))
            output = kubeflow_runner.compile_pipeline(hparams, PipelineSettings(), kubeflow,
                                                      str(tmp_path / f"{preset}{extension}"))
            with open(output, encoding="utf-8") as f:
                text = f.read()
            assert ROOT not in text, (target, preset)
            assert json.dumps(factory.SCHEMA_FILE)[1:-1] in text and pairs in text


@pytest.mark.parametrize("target, option, uri, message", [
    ("vertex", "pipeline_root", "minio://mlpipeline/v2/artifacts", "vertex keeps artifacts under gs:// only. Fix: pass a "
     "bucket, e.g. --pipeline-root gs://BUCKET/tfx."),
    ("kubeflow", "pipeline_root", "/mnt/tfx", "Fix: pass a bucket, e.g. --pipeline-root gs://BUCKET/tfx, or the "
     "cluster's MinIO (minio://mlpipeline/...)."),
    ("kubeflow", "serving_model_dir", "/srv/models", "a path of this machine or of no volume the steps mount, which the "
     "steps cannot reach. Fix: copy it to a bucket (gsutil cp -r /srv/models gs://BUCKET/serving_model) and pass "
     "gs://BUCKET/serving_model, or put it on a volume: --volume CLAIM=/mnt/imdb and --serving-model-dir "
     "/mnt/imdb/serving_model."),
    ("kubeflow", "serving_model_dir", "minio://mlpipeline/serving_model", "(the launcher copies artifacts from and to "
     "minio://, not this). Fix: pass gs://BUCKET/serving_model, or put it on a volume"),
    ("kubeflow", "data_root", "s3://bucket/aclImdb", "the image's TensorFlow and Beam open gs:// and mounted folders "
     "only (the launcher copies artifacts from and to s3://, not this). Fix: pass gs://BUCKET/aclImdb, or put it on a "
     "volume: --volume CLAIM=/mnt/imdb and --data-root /mnt/imdb/aclImdb."),
])
def test_a_location_the_steps_cannot_reach_is_refused_with_the_fix(tmp_path, target, option, uri, message):
    with pytest.raises(kubeflow_runner.CompileError) as refused:
        kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), _kubeflow(target=target, **{option: uri}),
                                         str(tmp_path / f"p{kubeflow_runner.TARGETS[target]}"))
    assert message in str(refused.value)


def test_a_local_word_pairs_file_is_refused_for_compile(tmp_path):
    pairs = tmp_path / "wordsim353.tsv"
    pairs.write_text("word1\tword2\tscore\n")
    kubeflow = _kubeflow(word2vec=Word2VecSettings(word2vec=True, word_pairs_file=str(pairs)))
    with pytest.raises(kubeflow_runner.CompileError, match=r"Fix: copy it to a bucket \(gsutil cp -r .*wordsim353.tsv"):
        kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "p.yaml"))


def test_gpu_type_is_checked_per_target_and_beam_args_reach_every_beam_step(tmp_path):
    for target, extension, gpu_type, wrong in (("kubeflow", ".yaml", "amd.com/gpu", "NVIDIA_TESLA_T4"),
                                               ("vertex", ".json", "NVIDIA_L4", "nvidia.com/gpu")):
        kubeflow = _kubeflow(target=target, test_split=False, gpus=2, gpu_type=gpu_type,
                             gpu_image="registry.example/imdb-embeddings-gpu:1",
                             beam_pipeline_args=("--runner=FlinkRunner", "--flink_master=flink:8081"))
        output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / f"p{extension}"))
        with open(output, encoding="utf-8") as f:
            # A package with GPUs holds the PlatformSpec as its second YAML document.
            document = json.load(f)["pipelineSpec"] if extension == ".json" else next(yaml.safe_load_all(f))
        spec = json_format.ParseDict(document, pipeline_spec_pb2.PipelineSpec())
        executors = kfp_launcher.deployment_config(spec).executors
        trainer_container = executors[f"{nodes.TRAINER}_executor"].container
        assert (trainer_container.resources.accelerator.type, trainer_container.resources.accelerator.count) == (
            gpu_type, 2)
        assert trainer_container.image == "registry.example/imdb-embeddings-gpu:1"
        for node in BEAM_NODES:
            args = list(executors[f"{node}_executor"].container.args)
            assert args[-3:] == ["--runner=FlinkRunner", "--flink_master=flink:8081", "--setup_file=/pipeline/setup.py"]
        # Without a test split, the Evaluator judges on eval.
        evaluator = spec.root.dag.tasks[nodes.EVALUATOR].inputs.parameters["example_splits"]
        assert json.loads(evaluator.runtime_value.constant.string_value) == ["eval"]
        with pytest.raises(kubeflow_runner.CompileError, match=f"--gpu-type {wrong} is not"):
            kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), _kubeflow(target=target, gpus=1, gpu_type=wrong),
                                             str(tmp_path / f"q{extension}"))
    assert pod_resources.DEFAULT_GPU_TYPES == {"kubeflow": "nvidia.com/gpu", "vertex": "NVIDIA_TESLA_T4"}
    from google.cloud.aiplatform_v1.types import AcceleratorType

    # Read from the library's source: the enum's own NVIDIA members, in order.
    assert pod_resources.vertex_accelerator_types() == tuple(
        a.name for a in AcceleratorType if a.name.startswith("NVIDIA_"))
    assert "NVIDIA_TESLA_T4" in pod_resources.vertex_accelerator_types()


def test_vertex_gets_a_pipeline_job_json_resolved_by_the_probe_as_on_kubeflow(tmp_path):
    kubeflow = _kubeflow(target="vertex", test_split=False, spans=True)
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "job.json"))
    with open(output) as f:
        job = json_format.Parse(f.read(), pipeline_spec_pb2.PipelineJob())
    values = json_format.MessageToDict(job.runtime_config)["parameterValues"]
    assert values["data_root"] == "gs://bucket/aclImdb"
    assert job.runtime_config.gcs_output_directory == "gs://bucket/root"
    spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pipeline_spec_pb2.PipelineSpec())
    executors = kfp_launcher.deployment_config(spec).executors
    # TFX's ExampleGen driver hook (which fingerprints the newest span alone) is gone: the probe resolves the
    # span and the window's fingerprint, as on open-source KFP.
    assert not executors[f"{nodes.EXAMPLE_GEN}_executor"].container.HasField("lifecycle")
    for task, name in ((nodes.EXAMPLE_GEN, "span"), (nodes.EXAMPLE_GEN, "input_fingerprint"),
                       (nodes.BASELINE_MODEL, "served_version")):
        assert spec.root.dag.tasks[task].inputs.parameters[name].task_output_parameter.producer_task == nodes.INPUT_PROBE
    # A job's enable_caching=True caches every task, the probe too: its run id input keeps it from ever matching.
    probe = spec.root.dag.tasks[nodes.INPUT_PROBE].inputs.parameters
    assert probe["run_id"].runtime_value.constant.string_value == "{{$.pipeline_job_uuid}}"
    with pytest.raises(kubeflow_runner.CompileError, match="written as .json"):
        kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "job.yaml"))


def test_compile_command_keeps_credentials_out_of_the_spec(tmp_path, monkeypatch, capsys):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    data_root = str(tmp_path / "aclImdb")
    corpus.write_corpus(data_root, train_per_label=5, test_per_label=None)
    output = str(tmp_path / "p.yaml")
    assert cli.main(["compile", "--image", "img:1", "--pipeline-root", "gs://b/root", "--data-root", data_root,
                     "--volume", f"imdb-data={tmp_path}", "--output", output, "--preset", "tutorial",
                     "--epochs", "3"]) == 0
    assert "evaluates on eval" in capsys.readouterr().out  # no test/ folder was found
    with open(output) as f:
        text = f.read()
    credentials = {name: value for name, value in os.environ.items()
                   if any(word in name for word in ("TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "COOKIE", "KEY"))
                   and len(value) >= 8}
    assert set(SECRETS) <= set(credentials)
    for name, value in credentials.items():
        assert value not in text, name
    assert json.loads(next(yaml.safe_load_all(text))["root"]["inputDefinitions"]["parameters"]["hparams"]["defaultValue"])[
        "epochs"] == 3


def _no_bucket(*_):
    raise PermissionError("403 Forbidden: no credentials for gs://private-bucket")


def test_compile_told_the_data_shape_never_looks_under_the_data_root(tmp_path, monkeypatch, capsys):
    for look in ("list_spans", "has_test_split", "has_unsup_split"):
        monkeypatch.setattr(data, look, _no_bucket)
    output = str(tmp_path / "w2v.yaml")
    assert cli.main(["compile", "--image", "img:1", "--pipeline-root", "gs://b/root", "--data-root",
                     "gs://private-bucket/aclImdb", "--output", output, "--preset", "word2vec", "--no-spans",
                     "--test-split", "--unsup-split"]) == 0
    tasks = kfp_launcher.load_pipeline_spec(output).root.dag.tasks
    assert "unsup" in tasks[nodes.WORD2VEC].inputs.parameters["splits"].runtime_value.constant.string_value
    # Without the shape, the one-line error names the options that would avoid the look.
    assert cli.main(["compile", "--image", "img:1", "--pipeline-root", "gs://b/root", "--data-root",
                     "gs://private-bucket/aclImdb", "--output", output, "--preset", "word2vec", "--no-spans"]) == 2
    err = capsys.readouterr().err.strip()
    assert "could not look under --data-root gs://private-bucket/aclImdb (403 Forbidden" in err
    assert err.endswith("Fix: give the data's shape instead: --[no-]test-split --[no-]unsup-split.")


def test_compile_told_there_is_no_test_split_evaluates_on_eval(tmp_path, capsys):
    for flag, split in (("--no-test-split", "eval"), ("--test-split", "test")):
        output = str(tmp_path / f"{split}.yaml")
        assert cli.main(["compile", "--image", "img:1", "--pipeline-root", "gs://b/root", "--data-root",
                         "gs://never-read/aclImdb", "--output", output, "--no-spans", flag]) == 0
        assert f"evaluates on {split})" in capsys.readouterr().out
        tasks = kfp_launcher.load_pipeline_spec(output).root.dag.tasks
        splits = tasks[nodes.EVALUATOR].inputs.parameters["example_splits"].runtime_value.constant.string_value
        assert json.loads(splits) == [split]


def test_the_backend_refuses_a_spec_with_a_resolver(tmp_path):
    """What the pipeline compiled to before: TFX's resolver of the latest blessed model."""
    resolver = tfx.dsl.Resolver(strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
                                model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
                                model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing)
                                ).with_id("latest_blessed_model_resolver")
    pipeline = tfx.dsl.Pipeline(pipeline_name="p", pipeline_root="gs://b/root", components=[resolver])
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image="img:1"))
    job = runner.run(pipeline, write_out=False)
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    with pytest.raises(kfp_launcher.RunRefused, match="resolver executors not implemented"):
        kfp_launcher.check_executors(spec)

"""Kubeflow: the compiled spec against the local pipeline and the backends' rules, credentials and paths of
this machine kept out, submit and schedule against a recording HTTP server. The compiled pipeline run as
open-source KFP would is in test_kubeflow_run.py."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.utils import import_utils

from components.artifacts import WordEmbedding
from components.example_gen import executor as example_gen_executor
from components.model.hparams import PRESETS, HParams
from components.word2vec import Word2VecSettings
from pipeline import cli, data
from pipeline.definition import factory, nodes
from pipeline.definition.data_shape import DataShape
from pipeline.definition.settings import PipelineSettings
from pipeline.runners import kfp_container, kubeflow_runner
from tests import corpus, kfp_launcher

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=25, batch_size=32, learning_rate=0.01)
BEAM_NODES = {nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN, nodes.TRANSFORM, nodes.EVALUATOR}
# Planted in the environment of the compiling process: none may reach the compiled file.
SECRETS = {"KF_PIPELINES_SA_TOKEN_PATH": "/var/run/secrets/kf-token-7f3a9c",
           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY",
           "GOOGLE_APPLICATION_CREDENTIALS": "/secrets/sa-key-5d2e1b.json"}


def _kubeflow(**overrides):
    values = dict(target="kubeflow", image="registry.example/imdb-embeddings:1", pipeline_root="gs://bucket/root",
                  data_root="gs://bucket/aclImdb", serving_model_dir="gs://bucket/serving_model")
    shape = {name: overrides.pop(name) for name in ("spans", "test_split", "unsup_split") if name in overrides}
    values["data_shape"] = DataShape(**{"test_split": True, **shape})
    values.update(overrides)
    return kubeflow_runner.KubeflowSettings(**values)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("kfp")
    kubeflow = _kubeflow(spans=True)
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(probe_words=("wonderful", "awful")), kubeflow,
                                              str(tmp_path / "pipeline.yaml"))
    return kubeflow, output


def _local_pipeline(kubeflow, hparams=HPARAMS):
    """The pipeline as the local runner builds it."""
    return factory.create_pipeline("local", kubeflow.pipeline_root, kubeflow.data_root, kubeflow.serving_model_dir,
                                   hparams, kubeflow.data_shape, warm_start=kubeflow.data_shape.spans)


def test_compiled_tasks_and_edges_are_the_local_pipelines_and_the_probe(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    tasks = spec.root.dag.tasks
    local = _local_pipeline(kubeflow)
    assert set(tasks) == {c.id for c in local.components} | {nodes.INPUT_PROBE}
    for component in local.components:
        compiled_upstream = kfp_launcher.dependencies(tasks[component.id]) - {nodes.INPUT_PROBE}
        assert compiled_upstream == {u.id for u in component.upstream_nodes}, component.id
    # The gate holds Transform back, as locally.
    assert nodes.DATA_VALIDATION_GATE in tasks[nodes.TRANSFORM].dependent_tasks
    # The probe runs first and is never cached; it feeds the steps that read outside the pipeline.
    assert kfp_launcher.dependencies(tasks[nodes.INPUT_PROBE]) == set()
    assert not tasks[nodes.INPUT_PROBE].caching_options.enable_cache
    assert {name for name, task in tasks.items() if nodes.INPUT_PROBE in kfp_launcher.dependencies(task)} == {
        nodes.EXAMPLE_GEN, nodes.SERVED_MODEL, nodes.BASELINE_MODEL}
    assert all(task.caching_options.enable_cache for name, task in tasks.items() if name != nodes.INPUT_PROBE)


def test_transform_writes_its_graph_and_examples_only(compiled):
    # No analyzer cache (nothing reads it back) and no statistics of its input or output.
    kubeflow, output = compiled
    transform = {c.id: c for c in _local_pipeline(kubeflow).components}[nodes.TRANSFORM]
    assert set(transform.outputs) == {"transform_graph", "transformed_examples"}
    spec = kfp_launcher.load_pipeline_spec(output)
    component = spec.components[spec.root.dag.tasks[nodes.TRANSFORM].component_ref.name]
    assert set(component.output_definitions.artifacts) == {"transform_graph", "transformed_examples"}


def test_every_executor_is_a_container_the_open_source_backend_runs(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    kfp_launcher.check_executors(spec)  # the Argo compiler's rule: no resolver
    executors = kfp_launcher.deployment_config(spec).executors
    assert {label for label, e in executors.items() if e.WhichOneof("spec") != "container"} == set()
    for label, executor in executors.items():
        container = executor.container
        assert container.image == "registry.example/imdb-embeddings:1"
        # No driver hook: open-source KFP never runs one (the probe does its work).
        assert not container.HasField("lifecycle")
        if label == f"{nodes.INPUT_PROBE}_executor":
            assert list(container.command) == kubeflow_runner.PROBE_COMMAND
            continue
        assert list(container.command) == kubeflow_runner.PROJECT_ENTRYPOINT
        class_path = container.args[list(container.args).index("--executor_class_path") + 1]
        import_utils.import_class_by_path(class_path)


def test_the_probe_feeds_the_cache_keys_of_the_example_gen_and_the_served_model_steps(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    tasks = spec.root.dag.tasks
    example_gen = tasks[nodes.EXAMPLE_GEN].inputs.parameters
    for name in ("span", "input_fingerprint", "input_config"):
        assert example_gen[name].task_output_parameter.producer_task == nodes.INPUT_PROBE
        assert example_gen[name].task_output_parameter.output_parameter_key == name
    for task in (nodes.SERVED_MODEL, nodes.BASELINE_MODEL):
        source = tasks[task].inputs.parameters["served_version"].task_output_parameter
        assert (source.producer_task, source.output_parameter_key) == (nodes.INPUT_PROBE, "served_version")
    probe = tasks[nodes.INPUT_PROBE].inputs.parameters
    assert probe["input_base"].component_input_parameter == "data_root"
    assert probe["serving_model_dir"].runtime_value.constant.string_value == kubeflow.serving_model_dir
    # TFX's entry point types the span by the inputs spec it is given.
    executor = kfp_launcher.deployment_config(spec).executors[f"{nodes.EXAMPLE_GEN}_executor"].container
    inputs_spec = json.loads(executor.args[list(executor.args).index("--json_serialized_inputs_spec_args") + 1])
    assert inputs_spec["parameters"]["span"] == {"parameterType": "NUMBER_INTEGER"}
    outputs = spec.components[nodes.INPUT_PROBE].output_definitions.parameters
    assert {name: pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name(p.parameter_type)
            for name, p in outputs.items()} == kfp_container.PROBE_OUTPUTS


def test_data_root_hparams_and_the_pipeline_root_travel_with_the_spec(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    assert spec.default_pipeline_root == "gs://bucket/root"
    parameters = spec.root.input_definitions.parameters
    assert parameters["data_root"].default_value.string_value == kubeflow.data_root
    assert json.loads(parameters["hparams"].default_value.string_value) == HPARAMS.to_dict()
    tasks = spec.root.dag.tasks
    assert tasks[nodes.EXAMPLE_GEN].inputs.parameters["input_base"].component_input_parameter == "data_root"
    assert tasks[nodes.TRAINER].inputs.parameters["custom_config"].component_input_parameter == "hparams"
    # Transform's settings are compiled in: only they change its output.
    transform_config = tasks[nodes.TRANSFORM].inputs.parameters["custom_config"].runtime_value.constant.string_value
    assert json.loads(transform_config) == HPARAMS.transform_config()
    # Spans: the window of the newest spans, warm-started from the served model.
    custom = json.loads(tasks[nodes.EXAMPLE_GEN].inputs.parameters["custom_config"].runtime_value.constant.string_value)
    assert custom["custom_config"]["value"]["window"] == PipelineSettings().window
    base_model = tasks[nodes.TRAINER].inputs.artifacts["base_model"].task_output_artifact
    assert (base_model.producer_task, base_model.output_artifact_key) == (nodes.SERVED_MODEL, "model")
    baseline = tasks[nodes.EVALUATOR].inputs.artifacts["baseline_model"].task_output_artifact
    assert (baseline.producer_task, baseline.output_artifact_key) == (nodes.BASELINE_MODEL, "model")
    candidate = tasks[nodes.BASELINE_MODEL].inputs.artifacts["candidate"].task_output_artifact
    assert (candidate.producer_task, candidate.output_artifact_key) == (nodes.TRAINER, "model")


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


def test_the_schema_file_is_found_in_an_installed_project():
    from components import packaged_schema  # pylint: disable=import-outside-toplevel

    path = packaged_schema.resolve_schema_file(factory.SCHEMA_FILE)
    assert os.path.isfile(path) and not os.path.isabs(factory.SCHEMA_FILE)
    assert packaged_schema.resolve_schema_file("gs://bucket/schema.pbtxt") == "gs://bucket/schema.pbtxt"


@pytest.mark.parametrize("option, uri", [("pipeline_root", "minio://mlpipeline/v2/artifacts"),
                                         ("pipeline_root", "s3://bucket/tfx"), ("pipeline_root", "/mnt/tfx"),
                                         ("serving_model_dir", "/srv/models")])
def test_a_root_the_image_cannot_write_is_refused(tmp_path, option, uri):
    with pytest.raises(kubeflow_runner.CompileError, match="Fix: pass a bucket, e.g. --"):
        kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), _kubeflow(**{option: uri}),
                                         str(tmp_path / "p.yaml"))


def test_a_local_word_pairs_file_is_refused_for_compile(tmp_path):
    pairs = tmp_path / "wordsim353.tsv"
    pairs.write_text("word1\tword2\tscore\n")
    kubeflow = _kubeflow(word2vec=Word2VecSettings(word2vec=True, word_pairs_file=str(pairs)))
    with pytest.raises(kubeflow_runner.CompileError, match=r"Fix: copy it to the bucket \(gsutil cp .*wordsim353.tsv"):
        kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "p.yaml"))


def test_gpu_type_is_checked_per_target_and_beam_args_reach_every_beam_step(tmp_path):
    for target, extension, gpu_type, wrong in (("kubeflow", ".yaml", "amd.com/gpu", "NVIDIA_TESLA_T4"),
                                               ("vertex", ".json", "NVIDIA_L4", "nvidia.com/gpu")):
        kubeflow = _kubeflow(target=target, test_split=False, gpus=2, gpu_type=gpu_type,
                             gpu_image="registry.example/imdb-embeddings-gpu:1",
                             beam_pipeline_args=("--runner=FlinkRunner", "--flink_master=flink:8081"))
        output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / f"p{extension}"))
        with open(output, encoding="utf-8") as f:
            document = json.load(f)["pipelineSpec"] if extension == ".json" else yaml.safe_load(f)
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
    assert kubeflow_runner.DEFAULT_GPU_TYPES == {"kubeflow": "nvidia.com/gpu", "vertex": "NVIDIA_TESLA_T4"}
    assert "NVIDIA_TESLA_T4" in kubeflow_runner.vertex_accelerator_types()


def test_the_images_setup_file_is_added_only_where_beam_args_name_no_package():
    # No Beam arguments: TFX runs Beam in the container and builds no package at all.
    assert kubeflow_runner.beam_args_for_image(()) == []
    assert kubeflow_runner.beam_args_for_image(["--runner=DataflowRunner"]) == [
        "--runner=DataflowRunner", "--setup_file=/pipeline/setup.py"]
    # A package the user names is left alone, in either spelling.
    for given in (["--setup_file=/mine/setup.py"], ["--setup_file", "/mine/setup.py"],
                  ["--extra_packages=/mine/pkg.tar.gz"], ["--extra_package", "/mine/pkg.tar.gz"]):
        assert kubeflow_runner.beam_args_for_image(["--runner=DataflowRunner", *given]) == [
            "--runner=DataflowRunner", *given]


def test_every_preset_compiles_its_settings(tmp_path):
    for preset, hparams in PRESETS.items():
        output = kubeflow_runner.compile_pipeline(hparams, PipelineSettings(), _kubeflow(unsup_split=True),
                                                  str(tmp_path / f"{preset}.yaml"))
        spec = kfp_launcher.load_pipeline_spec(output)
        assert json.loads(spec.root.input_definitions.parameters["hparams"].default_value.string_value) == \
            hparams.to_dict()


def test_vertex_gets_a_pipeline_job_json_with_the_example_gen_driver(tmp_path):
    kubeflow = _kubeflow(target="vertex", test_split=False, spans=True)
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "job.json"))
    with open(output) as f:
        job = json_format.Parse(f.read(), pipeline_spec_pb2.PipelineJob())
    values = json_format.MessageToDict(job.runtime_config)["parameterValues"]
    assert values["data_root"] == "gs://bucket/aclImdb"
    assert job.runtime_config.gcs_output_directory == "gs://bucket/root"
    spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pipeline_spec_pb2.PipelineSpec())
    executors = kfp_launcher.deployment_config(spec).executors
    # Vertex AI runs the ExampleGen's driver before its cache check: the span comes from there.
    assert executors[f"{nodes.EXAMPLE_GEN}_executor"].container.lifecycle.HasField("pre_cache_check")
    assert "span" not in spec.root.dag.tasks[nodes.EXAMPLE_GEN].inputs.parameters
    source = spec.root.dag.tasks[nodes.BASELINE_MODEL].inputs.parameters["served_version"].task_output_parameter
    assert source.producer_task == nodes.INPUT_PROBE
    with pytest.raises(kubeflow_runner.CompileError, match="written as .json"):
        kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "job.yaml"))


def test_compile_command_keeps_credentials_out_of_the_spec(tmp_path, monkeypatch, capsys):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    data_root = str(tmp_path / "aclImdb")
    corpus.write_corpus(data_root, train_per_label=5, test_per_label=None)
    output = str(tmp_path / "p.yaml")
    assert cli.main(["compile", "--image", "img:1", "--pipeline-root", "gs://b/root", "--data-root", data_root,
                     "--output", output, "--preset", "tutorial", "--epochs", "3"]) == 0
    assert "evaluates on eval" in capsys.readouterr().out  # no test/ folder was found
    with open(output) as f:
        text = f.read()
    credentials = {name: value for name, value in os.environ.items()
                   if any(word in name for word in ("TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "COOKIE", "KEY"))
                   and len(value) >= 8}
    assert set(SECRETS) <= set(credentials)
    for name, value in credentials.items():
        assert value not in text, name
    assert json.loads(yaml.safe_load(text)["root"]["inputDefinitions"]["parameters"]["hparams"]["defaultValue"])[
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


def test_the_entry_point_drops_the_outputs_the_launcher_adds():
    executor_input = pipeline_spec_pb2.ExecutorInput()
    examples = executor_input.outputs.artifacts["examples"].artifacts.add(uri="gs://b/examples", name="examples")
    examples.type.instance_schema = "title: tfx.Examples\ntype: object\n"
    logs = executor_input.outputs.artifacts["executor-logs"].artifacts.add(uri="gs://b/logs", name="executor-logs")
    logs.type.schema_title = "system.Artifact"
    serialized = json_format.MessageToJson(executor_input)
    argv = kfp_container.executor_argv(["--executor_class_path", "x.Executor",
                                        "--json_serialized_invocation_args", serialized, "--runner=DirectRunner"])
    kept = json_format.Parse(argv[3], pipeline_spec_pb2.ExecutorInput())
    assert list(kept.outputs.artifacts) == ["examples"]
    assert argv[:3] == ["--executor_class_path", "x.Executor", "--json_serialized_invocation_args"]
    assert argv[4:] == ["--runner=DirectRunner"]
    # TFX's own entry point fails on exactly that output: the wrapper is what makes the step run.
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils  # pylint: disable=import-outside-toplevel

    with pytest.raises(ImportError, match="system.Artifact"):
        kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(executor_input.outputs.artifacts, {})


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


def test_the_image_is_a_beam_worker_of_the_pinned_beam():
    with open(os.path.join(ROOT, "constraints.txt"), encoding="utf-8") as f:
        (beam,) = [line.split("==")[1].strip() for line in f if line.startswith("apache-beam==")]
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as f:
        dockerfile = f.read()
    assert f"FROM apache/beam_python3.10_sdk:{beam} AS beam" in dockerfile
    assert "COPY --from=beam /opt/apache/beam /opt/apache/beam" in dockerfile
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in dockerfile


class _RecordingKfp(BaseHTTPRequestHandler):
    """Answers the Kubeflow Pipelines v2beta1 API calls of kfp's Client and records them."""

    requests = []
    answer_404 = False

    def _reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        type(self).requests.append((method, self.path.split("?")[0], body))
        path = self.path.split("?")[0]
        routes = {
            ("GET", "/apis/v2beta1/healthz"): {"multi_user": False},
            ("GET", "/apis/v2beta1/experiments"): {},
            ("POST", "/apis/v2beta1/experiments"): {"experiment_id": "exp-1", "display_name": "x"},
            ("POST", "/apis/v2beta1/runs"): {"run_id": "run-1"},
            ("POST", "/apis/v2beta1/recurringruns"): {"recurring_run_id": "recurring-1"},
        }
        if type(self).answer_404 or (method, path) not in routes:
            self._reply(404, {"error": "Not Found"})
        else:
            self._reply(200, routes[(method, path)])

    def do_GET(self):  # noqa: N802
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def log_message(self, *args):
        pass


@pytest.fixture
def kfp_server():
    _RecordingKfp.requests = []
    _RecordingKfp.answer_404 = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingKfp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _RecordingKfp
    finally:
        server.shutdown()


def test_submit_uploads_the_compiled_spec_and_starts_a_run(compiled, kfp_server, capsys):
    _, output = compiled
    host, recorder = kfp_server
    assert cli.main(["submit", "--host", host, "--package", output, "--experiment", "nightly",
                     "--param", "data_root=gs://bucket/new", "--run-name", "try-1"]) == 0
    assert "Started run run-1 in experiment nightly" in capsys.readouterr().out
    (experiment,) = [body for method, path, body in recorder.requests if path == "/apis/v2beta1/experiments" and body]
    assert experiment["display_name"] == "nightly"
    (run,) = [body for method, path, body in recorder.requests if path == "/apis/v2beta1/runs"]
    with open(output) as f:
        assert run["pipeline_spec"] == yaml.safe_load(f)
    assert run["display_name"] == "try-1" and run["experiment_id"] == "exp-1"
    assert run["runtime_config"]["parameters"] == {"data_root": "gs://bucket/new"}
    # The root of the spec, named in the request: the API server does not read the spec's own.
    assert run["runtime_config"]["pipeline_root"] == "gs://bucket/root"


def test_schedule_creates_one_recurring_run_without_catch_up(compiled, kfp_server, capsys):
    _, output = compiled
    host, recorder = kfp_server
    assert cli.main(["schedule", "--host", host, "--package", output, "--cron", "0 0 3 * * *"]) == 0
    assert "Created recurring run recurring-1" in capsys.readouterr().out
    (job,) = [body for method, path, body in recorder.requests if path == "/apis/v2beta1/recurringruns"]
    assert job["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
    assert job["max_concurrency"] == "1" or job["max_concurrency"] == 1
    assert job["no_catchup"] is True
    assert job["mode"] == "ENABLE"
    assert job["runtime_config"]["pipeline_root"] == "gs://bucket/root"
    with open(output) as f:
        assert job["pipeline_spec"] == yaml.safe_load(f)


def test_submit_in_a_namespace_creates_the_experiment_there(compiled, kfp_server, capsys):
    _, output = compiled
    host, recorder = kfp_server
    assert cli.main(["submit", "--host", host, "--package", output, "--namespace", "team-a"]) == 0
    (experiment,) = [body for method, path, body in recorder.requests if path == "/apis/v2beta1/experiments" and body]
    assert experiment["namespace"] == "team-a"


def test_compile_told_there_is_no_test_split_evaluates_on_eval(tmp_path, capsys):
    for flag, split in (("--no-test-split", "eval"), ("--test-split", "test")):
        output = str(tmp_path / f"{split}.yaml")
        assert cli.main(["compile", "--image", "img:1", "--pipeline-root", "gs://b/root", "--data-root",
                         "gs://never-read/aclImdb", "--output", output, "--no-spans", flag]) == 0
        assert f"evaluates on {split})" in capsys.readouterr().out
        tasks = kfp_launcher.load_pipeline_spec(output).root.dag.tasks
        splits = tasks[nodes.EVALUATOR].inputs.parameters["example_splits"].runtime_value.constant.string_value
        assert json.loads(splits) == [split]


def test_schedule_refuses_a_five_field_cron(compiled, capsys):
    _, output = compiled
    assert cli.main(["schedule", "--host", "http://127.0.0.1:9", "--package", output, "--cron", "0 3 * * *"]) == 2
    assert 'try "0 0 3 * * *"' in capsys.readouterr().err


def test_a_wrong_host_or_a_refused_connection_is_one_line(compiled, kfp_server, capsys):
    _, output = compiled
    host, recorder = kfp_server
    recorder.answer_404 = True
    assert cli.main(["submit", "--host", host, "--package", output]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: Kubeflow Pipelines at {host} answered HTTP 404") and "Fix: check --host" in err
    assert len(err.splitlines()) == 1

    assert cli.main(["submit", "--host", "http://127.0.0.1:9", "--package", output]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Kubeflow Pipelines at http://127.0.0.1:9 could not be reached")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_the_rolling_window_and_warm_start_compile(tmp_path):
    data_root = str(tmp_path / "spans")
    for span in (1, 2):
        corpus.write_corpus(os.path.join(data_root, f"span-{span}"), train_per_label=5, test_per_label=None, seed=span)
    output = str(tmp_path / "retraining.yaml")
    assert cli.main(["compile", "--image", "img:1", "--pipeline-root", "gs://b/root", "--data-root", data_root,
                     "--output", output, "--window", "4"]) == 0
    spec = kfp_launcher.load_pipeline_spec(output)
    tasks = spec.root.dag.tasks
    example_gen = tasks[nodes.EXAMPLE_GEN].inputs.parameters
    # The probe fills in the newest span and hands the ExampleGen the resolved patterns.
    probe = tasks[nodes.INPUT_PROBE].inputs.parameters
    patterns = [s["pattern"] for s in json.loads(probe["input_config"].runtime_value.constant.string_value)["splits"]]
    assert patterns == ["span-{SPAN}/train/*/*.txt", "span-{SPAN}/train/*/*.txt"]
    custom = json.loads(example_gen["custom_config"].runtime_value.constant.string_value)["custom_config"]["value"]
    assert custom["window"] == 4
    # The Trainer starts from the served model.
    base_model = tasks[nodes.TRAINER].inputs.artifacts["base_model"].task_output_artifact
    assert base_model.producer_task == nodes.SERVED_MODEL


def test_word2vec_compiles_with_the_unsup_split_and_the_trainers_gpu(tmp_path):
    kubeflow = _kubeflow(gpus=1,
                         gpu_image="registry.example/imdb-embeddings-gpu:1", unsup_split=True,
                         word2vec=Word2VecSettings(word2vec=True, word2vec_epochs=2))
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "w2v.yaml"))
    spec = kfp_launcher.load_pipeline_spec(output)
    tasks = spec.root.dag.tasks
    assert nodes.DATA_VALIDATION_GATE in tasks[nodes.WORD2VEC].dependent_tasks
    assert nodes.WORD2VEC in kfp_launcher.dependencies(tasks[nodes.PROJECTOR_EXPORTER])
    settings = json.loads(tasks[nodes.WORD2VEC].inputs.parameters["settings"].runtime_value.constant.string_value)
    assert settings["word2vec_epochs"] == 2
    splits = json.loads(tasks[nodes.WORD2VEC].inputs.parameters["splits"].runtime_value.constant.string_value)
    assert splits == ["train", "eval", "unsup"]
    input_config = tasks[nodes.INPUT_PROBE].inputs.parameters["input_config"].runtime_value.constant.string_value
    assert "train/unsup/*.txt" in input_config
    container = kfp_launcher.deployment_config(spec).executors[f"{nodes.WORD2VEC}_executor"].container
    assert (container.image, container.resources.accelerator.count) == ("registry.example/imdb-embeddings-gpu:1", 1)
    import_utils.import_class_by_path(container.args[list(container.args).index("--executor_class_path") + 1])
    # The output type is importable by its schema title, as TFX's entrypoint does on a cluster.
    assert f"title: {WordEmbedding.TYPE_NAME}" in open(output).read()
    assert import_utils.import_class_by_path(WordEmbedding.TYPE_NAME) is WordEmbedding


def test_the_word2vec_preset_compiles_the_table_as_the_trainers_base_model(tmp_path):
    kubeflow = _kubeflow(unsup_split=True)
    output = kubeflow_runner.compile_pipeline(PRESETS["word2vec"], PipelineSettings(), kubeflow,
                                              str(tmp_path / "w2v.yaml"))
    tasks = kfp_launcher.load_pipeline_spec(output).root.dag.tasks
    base_model = tasks[nodes.TRAINER].inputs.artifacts["base_model"].task_output_artifact
    assert (base_model.producer_task, base_model.output_artifact_key) == (nodes.WORD2VEC, "model")
    standardization = tasks[nodes.WORD2VEC].inputs.parameters["standardization"].runtime_value.constant
    assert standardization.string_value == "split_punctuation"


def test_the_probe_resolves_the_span_fingerprint_and_served_version(tmp_path):
    for span in (1, 2):
        corpus.write_corpus(str(tmp_path / "spans" / f"span-{span}"), train_per_label=5, test_per_label=None, seed=span)
    (tmp_path / "serving" / "1700000000").mkdir(parents=True)
    (tmp_path / "serving" / "1700000000" / "saved_model.pb").write_bytes(b"model")
    executor_input = pipeline_spec_pb2.ExecutorInput()
    parameters = executor_input.inputs.parameter_values
    parameters[kfp_container.PROBE_INPUT_BASE].string_value = str(tmp_path / "spans")
    parameters[kfp_container.PROBE_INPUT_CONFIG].string_value = json_format.MessageToJson(
        example_gen_executor.make_input_config(False, spans=True))
    parameters[kfp_container.PROBE_SERVING_MODEL_DIR].string_value = str(tmp_path / "serving")
    executor_input.outputs.output_file = str(tmp_path / "task" / "output_metadata.json")
    assert kfp_container.main(["probe", "--executor_input", json_format.MessageToJson(executor_input)]) == 0
    with open(executor_input.outputs.output_file, encoding="utf-8") as f:
        values = json.load(f)["parameterValues"]
    assert values["span"] == 2 and values["served_version"] == "1700000000"
    assert values["input_fingerprint"].startswith("split:train,num_files:11,")
    assert [split["pattern"] for split in json.loads(values["input_config"])["splits"]] == [
        "span-2/train/*/*.txt", "span-2/train/*/*.txt"]

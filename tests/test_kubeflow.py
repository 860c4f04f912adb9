"""Kubeflow: the compiled spec against the local pipeline, credentials kept out, submit and schedule
against a recording HTTP server, and (e2e) the whole compiled pipeline executed as the KFP v2 launcher would."""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import tensorflow_transform as tft
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.utils import import_utils

from components.model import features
from components.model.hparams import PRESETS, HParams
from components.projector import projector
from components.word2vec import Word2VecSettings
from pipeline import cli, factory, kubeflow_runner, layout, nodes, serving
from pipeline.settings import PipelineSettings
from tests import corpus, kfp_launcher

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=25, batch_size=32, learning_rate=0.01)
RESOLVER_TASKS = {f"{nodes.BASELINE_RESOLVER}-model-blessing-resolver", f"{nodes.BASELINE_RESOLVER}-model-resolver"}
BEAM_NODES = {nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN, nodes.TRANSFORM, nodes.EVALUATOR}
# Planted in the environment of the compiling process: none may reach the compiled file.
SECRETS = {"KF_PIPELINES_SA_TOKEN_PATH": "/var/run/secrets/kf-token-7f3a9c",
           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY",
           "GOOGLE_APPLICATION_CREDENTIALS": "/secrets/sa-key-5d2e1b.json"}


def _kubeflow(tmp_path, data_root, **overrides):
    values = dict(target="kubeflow", image="registry.example/imdb-embeddings:1", pipeline_root=str(tmp_path / "root"),
                  data_root=data_root, serving_model_dir=str(tmp_path / "serving_model"), include_test_split=True)
    values.update(overrides)
    return kubeflow_runner.KubeflowSettings(**values)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("kfp")
    data_root = str(tmp_path / "aclImdb")
    corpus.write_corpus(data_root, train_per_label=150, test_per_label=40, seed=1)
    kubeflow = _kubeflow(tmp_path, data_root)
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(probe_words=("wonderful", "awful")), kubeflow,
                                              str(tmp_path / "pipeline.yaml"))
    return kubeflow, output


def _local_pipeline(kubeflow, hparams=HPARAMS):
    """The pipeline as the local runner builds it, but for the baseline resolver's strategy, which
    KubeflowV2DagRunner does not compile (see pipeline/baseline.py)."""
    return factory.create_pipeline("local", kubeflow.pipeline_root, kubeflow.data_root, kubeflow.serving_model_dir,
                                   hparams, kubeflow.include_test_split, baseline_excludes_candidate=False)


def _as_node(task_name):
    return nodes.BASELINE_RESOLVER if task_name in RESOLVER_TASKS else task_name


def test_compiled_tasks_and_edges_are_the_local_pipelines(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    tasks = spec.root.dag.tasks
    local = _local_pipeline(kubeflow)
    assert set(tasks) == ({c.id for c in local.components} - {nodes.BASELINE_RESOLVER}) | RESOLVER_TASKS
    for component in local.components:
        if component.id == nodes.BASELINE_RESOLVER:
            continue
        compiled_upstream = {_as_node(t) for t in kfp_launcher.dependencies(tasks[component.id])}
        assert compiled_upstream == {u.id for u in component.upstream_nodes}, component.id
    # The gate holds Transform back, as locally.
    assert nodes.DATA_VALIDATION_GATE in tasks[nodes.TRANSFORM].dependent_tasks


def test_executors_are_named_by_import_paths_of_the_installed_project(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    executors = kfp_launcher.deployment_config(spec).executors
    containers = {label: e.container for label, e in executors.items() if e.HasField("container")}
    assert set(containers) == {f"{c.id}_executor" for c in _local_pipeline(kubeflow).components
                               if c.id != nodes.BASELINE_RESOLVER}
    for container in containers.values():
        assert container.image == "registry.example/imdb-embeddings:1"
        assert list(container.command) == ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
        class_path = container.args[list(container.args).index("--executor_class_path") + 1]
        import_utils.import_class_by_path(class_path)
    assert {label for label, e in executors.items() if e.HasField("resolver")} == {
        f"{task}_executor" for task in RESOLVER_TASKS}


def test_data_root_and_trainer_settings_are_pipeline_parameters(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    parameters = spec.root.input_definitions.parameters
    assert parameters["data_root"].default_value.string_value == kubeflow.data_root
    assert json.loads(parameters["hparams"].default_value.string_value) == HPARAMS.to_dict()
    tasks = spec.root.dag.tasks
    assert tasks[nodes.EXAMPLE_GEN].inputs.parameters["input_base"].component_input_parameter == "data_root"
    assert tasks[nodes.TRAINER].inputs.parameters["custom_config"].component_input_parameter == "hparams"
    # Transform's settings are compiled in: only they change its output.
    transform_config = tasks[nodes.TRANSFORM].inputs.parameters["custom_config"].runtime_value.constant.string_value
    assert json.loads(transform_config) == HPARAMS.transform_config()


def test_gpu_beam_args_and_every_preset(tmp_path):
    data_root = "gs://bucket/aclImdb"
    for preset, hparams in PRESETS.items():
        kubeflow = _kubeflow(tmp_path, data_root, pipeline_root="gs://bucket/root", include_test_split=False, gpus=2,
                             gpu_type="NVIDIA_TESLA_T4", gpu_image="registry.example/imdb-embeddings-gpu:1",
                             beam_pipeline_args=("--runner=FlinkRunner", "--flink_master=flink:8081"))
        output = kubeflow_runner.compile_pipeline(hparams, PipelineSettings(), kubeflow, str(tmp_path / f"{preset}.yaml"))
        spec = kfp_launcher.load_pipeline_spec(output)
        executors = kfp_launcher.deployment_config(spec).executors
        trainer_container = executors[f"{nodes.TRAINER}_executor"].container
        assert trainer_container.resources.accelerator.type == "NVIDIA_TESLA_T4"
        assert trainer_container.resources.accelerator.count == 2
        assert trainer_container.image == "registry.example/imdb-embeddings-gpu:1"
        for node in BEAM_NODES:
            args = list(executors[f"{node}_executor"].container.args)
            assert args[-3:] == ["--runner=FlinkRunner", "--flink_master=flink:8081", "--setup_file=/pipeline/setup.py"]
        assert json.loads(spec.root.input_definitions.parameters["hparams"].default_value.string_value) == hparams.to_dict()
        # Without a test split, the Evaluator judges on eval.
        evaluator = spec.root.dag.tasks[nodes.EVALUATOR].inputs.parameters["example_splits"]
        assert json.loads(evaluator.runtime_value.constant.string_value) == ["eval"]


def test_vertex_gets_a_pipeline_job_json(tmp_path):
    kubeflow = _kubeflow(tmp_path, "gs://bucket/aclImdb", target="vertex", pipeline_root="gs://bucket/root",
                         include_test_split=False)
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "job.json"))
    with open(output) as f:
        job = json_format.Parse(f.read(), pipeline_spec_pb2.PipelineJob())
    values = json_format.MessageToDict(job.runtime_config)["parameterValues"]
    assert values["data_root"] == "gs://bucket/aclImdb"
    assert job.runtime_config.gcs_output_directory == "gs://bucket/root"
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
    with open(output) as f:
        assert job["pipeline_spec"] == yaml.safe_load(f)


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


@pytest.mark.e2e
def test_the_compiled_pipeline_runs_task_by_task_as_the_launcher_would(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    emulation = kfp_launcher.LauncherEmulation(spec, kubeflow.pipeline_root, env=env, cwd=ROOT)
    emulation.run()
    print("emulated task seconds:", json.dumps({k: round(v, 1) for k, v in emulation.seconds.items()}))

    assert set(emulation.seconds) == set(spec.root.dag.tasks) - RESOLVER_TASKS
    assert set(emulation.skipped) == RESOLVER_TASKS
    # The driver hook resolved the input: span and fingerprint recorded on the examples.
    examples = emulation.output_metadata(nodes.EXAMPLE_GEN, "examples")
    assert examples["custom:span"] == 0 and "split:train,num_files:" in examples["input_fingerprint"]
    assert json.loads(examples["split_names"]) == ["train", "eval", "test"]

    blessing = emulation.output_metadata(nodes.EVALUATOR, "blessing")
    assert blessing["blessed"] == 1
    served = layout.latest_serving_model(kubeflow.serving_model_dir)
    assert served and emulation.output_metadata(nodes.PUSHER, "pushed_model")["pushed"] == 1

    (transform_graph,) = emulation.outputs[nodes.TRANSFORM]["transform_graph"]
    vocabulary = tft.TFTransformOutput(transform_graph.uri).vocabulary_by_name(features.VOCABULARY_NAME)
    (projector_files,) = emulation.outputs[nodes.PROJECTOR_EXPORTER]["projector"]
    labels = projector.read_metadata_labels(os.path.join(projector_files.uri, projector.METADATA_FILE))
    vectors = np.loadtxt(os.path.join(projector_files.uri, projector.VECTORS_FILE), delimiter="\t")
    assert labels == [features.OOV_TOKEN] + [token.decode() for token in vocabulary]
    assert vectors.shape == (len(labels), HPARAMS.embedding_dim)

    # What `pipeline.py predict` does with the pushed model, on the test reviews.
    reviews = list(corpus_reviews(kubeflow.data_root))
    probability = serving.predict(served, [text for text, _ in reviews])
    accuracy = float(np.mean((probability > 0.5) == np.array([label for _, label in reviews])))
    assert accuracy > 0.8, accuracy


def corpus_reviews(data_root):
    """The test/ reviews of a generated corpus, as (text, label)."""
    for label_name, label in (("pos", 1), ("neg", 0)):
        folder = os.path.join(data_root, "test", label_name)
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as f:
                yield f.read(), label


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
    patterns = [s["pattern"] for s in json.loads(example_gen["input_config"].runtime_value.constant.string_value)["splits"]]
    assert patterns == ["span-{SPAN}/train/*/*.txt", "span-{SPAN}/train/*/*.txt"]
    custom = json.loads(example_gen["custom_config"].runtime_value.constant.string_value)["custom_config"]["value"]
    assert custom["window"] == 4
    # The Trainer starts from the latest blessed model: the resolver's model output.
    base_model = tasks[nodes.TRAINER].inputs.artifacts["base_model"].task_output_artifact
    assert base_model.producer_task == f"{nodes.WARM_START_RESOLVER}-model-resolver"


def test_word2vec_compiles_with_the_unsup_split_and_the_trainers_gpu(tmp_path):
    kubeflow = _kubeflow(tmp_path, "gs://bucket/aclImdb", pipeline_root="gs://bucket/root", gpus=1,
                         gpu_image="registry.example/imdb-embeddings-gpu:1", unsup=True,
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
    input_config = tasks[nodes.EXAMPLE_GEN].inputs.parameters["input_config"].runtime_value.constant.string_value
    assert "train/unsup/*.txt" in input_config
    container = kfp_launcher.deployment_config(spec).executors[f"{nodes.WORD2VEC}_executor"].container
    assert (container.image, container.resources.accelerator.count) == ("registry.example/imdb-embeddings-gpu:1", 1)
    import_utils.import_class_by_path(container.args[list(container.args).index("--executor_class_path") + 1])
    # The output type is importable by its schema title, as TFX's entrypoint does on a cluster.
    import imdb_embeddings  # noqa: F401  pylint: disable=import-outside-toplevel
    assert "imdb_embeddings.WordEmbedding" in open(output).read()


def test_the_word2vec_preset_compiles_the_table_as_the_trainers_base_model(tmp_path):
    kubeflow = _kubeflow(tmp_path, "gs://bucket/aclImdb", pipeline_root="gs://bucket/root", unsup=True)
    output = kubeflow_runner.compile_pipeline(PRESETS["word2vec"], PipelineSettings(), kubeflow,
                                              str(tmp_path / "w2v.yaml"))
    tasks = kfp_launcher.load_pipeline_spec(output).root.dag.tasks
    base_model = tasks[nodes.TRAINER].inputs.artifacts["base_model"].task_output_artifact
    assert (base_model.producer_task, base_model.output_artifact_key) == (nodes.WORD2VEC, "model")
    standardization = tasks[nodes.WORD2VEC].inputs.parameters["standardization"].runtime_value.constant
    assert standardization.string_value == "split_punctuation"

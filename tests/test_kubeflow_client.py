"""Kubeflow submit and schedule against a local HTTP server that records kfp's Client's API calls: the compiled
spec uploaded with the pipeline root, namespaces, the six-field cron, and a wrong or unreachable host in one
line."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from pipeline import cli
from tests import kubeflow_fixtures


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return kubeflow_fixtures.compile_spans_pipeline(tmp_path_factory)


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
    assert "object at 0x" not in err and "Connection refused" in err


def test_a_run_changes_the_trainer_settings_it_names_and_keeps_the_compiled_rest(compiled, kfp_server, capsys):
    _, output = compiled
    host, recorder = kfp_server
    assert cli.main(["submit", "--host", host, "--package", output, "--param", 'hparams={"epochs": 3}']) == 0
    (run,) = [body for method, path, body in recorder.requests if path == "/apis/v2beta1/runs"]
    sent = json.loads(run["runtime_config"]["parameters"]["hparams"])
    # The compiled settings (kubeflow_fixtures.HPARAMS), with the epochs changed: not HParams()'s defaults.
    assert sent["epochs"] == 3
    assert (sent["vocab_size"], sent["sequence_length"], sent["batch_size"], sent["learning_rate"]) == (200, 40, 32, 0.01)


@pytest.mark.parametrize("hparams, named", [
    ('{"ngram_size": 2}', "ngram_size 1 -> 2"),
    ('{"vocab_size": 500, "epochs": 2}', "vocab_size 200 -> 500"),
    ('{"embedding_init": "word2vec"}', "embedding_init 'random' -> 'word2vec'"),
])
def test_a_run_cannot_change_what_the_transform_graph_was_compiled_with(compiled, kfp_server, capsys, hparams, named):
    _, output = compiled
    host, recorder = kfp_server
    for command in (["submit"], ["schedule", "--cron", "0 0 3 * * *"]):
        assert cli.main(command + ["--host", host, "--package", output, "--param", f"hparams={hparams}"]) == 2
        err = capsys.readouterr().err.strip()
        assert named in err and "Fix: compile again with --" in err and len(err.splitlines()) == 1
    assert recorder.requests == []  # refused before anything is sent


@pytest.mark.parametrize("param, named", [
    ("hparams=epochs=3", "not JSON"),
    ("hparams=[3]", "is not a JSON object"),
    ('hparams={"epoch": 3}', "unknown setting(s) ['epoch']"),
    ('hparams={"epochs": 0}', "epochs must be a positive integer, got 0"),
    ("data-root=gs://b/x", "--param data-root: the pipeline in"),
])
def test_a_bad_run_parameter_is_one_line_with_the_fix(compiled, capsys, param, named):
    _, output = compiled
    assert cli.main(["submit", "--host", "http://127.0.0.1:9", "--package", output, "--param", param]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and "Fix:" in err and len(err.splitlines()) == 1

"""The Beam steps through Beam's portable job API with SDK workers in processes of their own, as Flink and
Spark run Python pipelines.

Beam's own job service (``local_job_service_main``, the API that Flink's and Spark's job servers serve) and
worker pool (``worker_pool_main``, what ``--environment_type=EXTERNAL`` points at) run beside the pipeline;
the pool starts each SDK worker through ``tests/beam_boot.py``, which follows the image's Beam boot. The
workers' environment has the dependencies but not this project: its code reaches them only as the sdist that
``--setup_file`` built and the job staged. Each step's transforms are pickled into the job and run in
another process, so nothing can come from the driver's memory.

Only a real Flink or Spark cluster shows: the job server of that engine, its scheduling of bundles over
several machines, the image pulled as the worker environment, and the distributed file system the workers
share (here the local disk).
"""

import os
import socket
import subprocess
import sys
import time

import pytest

from components.model.hparams import HParams
from pipeline.definition import nodes
from pipeline.definition.settings import RunSettings
from pipeline.runners import local_runner
from tests import corpus, isolation

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEAM_STEPS = {nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN, nodes.TRANSFORM, nodes.EVALUATOR}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("localhost", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port}")


@pytest.fixture(scope="module")
def beam_services(tmp_path_factory):
    work = tmp_path_factory.mktemp("beam")
    harness = isolation.no_checkout_harness(str(work / "harness"))
    boot = work / "boot"
    boot.write_text(f"#!/bin/sh\nexec {sys.executable} {os.path.join(ROOT, 'tests', 'beam_boot.py')} \"$@\"\n")
    boot.chmod(0o755)
    worker_env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
                  "PYTHONPATH": harness, "HOME": str(work), "TF_USE_LEGACY_KERAS": "1",
                  "TF_CPP_MIN_LOG_LEVEL": "2", "BEAM_BOOT_SEMI_PERSIST_DIR": str(work)}
    job_port, pool_port = _free_port(), _free_port()
    empty = work / "empty"
    empty.mkdir()
    logs = {name: open(work / f"{name}.log", "w", encoding="utf-8") for name in ("job_service", "worker_pool")}
    processes = [
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
                          "--port", str(job_port), "--staging_dir", str(work / "staging")],
                         env=dict(worker_env, PYTHONPATH=harness), cwd=empty,
                         stdout=logs["job_service"], stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                          "--service_port", str(pool_port), "--container_executable", str(boot)],
                         env=worker_env, cwd=empty, stdout=logs["worker_pool"], stderr=subprocess.STDOUT),
    ]
    try:
        _wait_for(job_port, processes[0])
        _wait_for(pool_port, processes[1])
        yield job_port, pool_port, work
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        for log in logs.values():
            log.close()


def test_the_beam_steps_run_in_sdk_workers_with_the_code_from_setup_file(beam_services, tmp_path):
    job_port, pool_port, work = beam_services
    data_dir = str(tmp_path / "aclImdb")
    corpus.write_corpus(data_dir, train_per_label=40, test_per_label=10)
    # The arguments of a Flink or Spark job server user (README: --environment_type=EXTERNAL).
    beam_args = ("--runner=PortableRunner", f"--job_endpoint=localhost:{job_port}",
                 "--environment_type=EXTERNAL", f"--environment_config=localhost:{pool_port}",
                 f"--setup_file={os.path.join(ROOT, 'setup.py')}")
    report = local_runner.run_local(RunSettings(
        data_dir=data_dir, output_dir=str(tmp_path / "out"),
        hparams=HParams(vocab_size=200, sequence_length=40, epochs=10, batch_size=32, learning_rate=0.01),
        beam_pipeline_args=beam_args))
    states = {c.node_id: c.state for c in report.components}
    assert all(states[step] == "ran" for step in BEAM_STEPS), states
    assert report.evaluation.blessed and report.split_counts["test"] == 20
    # Every Beam step's job started SDK workers through the boot, which installed the staged sdist.
    boots = sorted(work.glob("staged-*/site-packages/components/example_gen/executor.py"))
    assert len(boots) >= len(BEAM_STEPS), boots
    with open(work / "worker_pool.log", encoding="utf-8") as f:
        assert f.read().count("Starting worker with command") >= len(BEAM_STEPS)

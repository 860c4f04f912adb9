"""Faults: a run killed with SIGKILL resumes from what finished; a full disk loses nothing."""

import os
import signal
import subprocess
import sys
import threading

import pytest

from pipeline import cli, layout
from pipeline.definition import nodes
from pipeline.definition.settings import PIPELINE_NAME
from pipeline.records import metadata
from tests import corpus

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_RUN = ["--preset", "tutorial", "--vocab-size", "200", "--sequence-length", "40",
             "--learning-rate", "0.01", "--batch-size", "32", "--epochs", "30", "--quiet"]


def _states(output_dir):
    store = metadata.open_store(layout.output_paths(output_dir).metadata)
    run_id = metadata.latest_run_id(store, PIPELINE_NAME)
    return {c.node_id: c.state for c in metadata.component_runs(store, PIPELINE_NAME, run_id)}


def _run_and_kill(args, kill_when, timeout_s=300):
    """Runs the command line in a child process and SIGKILLs it when a progress line contains ``kill_when``."""
    child = subprocess.Popen([sys.executable, "pipeline.py", "run", *args], cwd=ROOT, stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    watchdog = threading.Timer(timeout_s, lambda: os.killpg(child.pid, signal.SIGKILL))
    watchdog.start()
    seen = []
    try:
        for line in child.stderr:
            seen.append(line)
            if kill_when in line:
                os.killpg(child.pid, signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        child.wait()
    assert child.returncode == -signal.SIGKILL, "".join(seen)
    return seen


@pytest.mark.parametrize(
    "killed_in, kill_when",
    [("Trainer", "Trainer: epoch 3/"), ("Transform", "Transform                      started")],
)
def test_a_killed_run_resumes_and_reuses_what_finished(tmp_path, killed_in, kill_when):
    data_dir = str(tmp_path / "aclImdb")
    corpus.write_corpus(data_dir, train_per_label=150, test_per_label=40)
    output_dir = str(tmp_path / "out")
    args = ["--data-dir", data_dir, "--output-dir", output_dir, *SMALL_RUN]
    # Without --quiet the progress lines come on stderr: they tell when to kill.
    progress_lines = "".join(_run_and_kill([a for a in args if a != "--quiet"], kill_when))
    assert "AclImdbExampleGen              ran" in progress_lines and "380 reviews read" in progress_lines
    if killed_in == "Trainer":
        assert "Transform                      ran" in progress_lines and "vocabulary of" in progress_lines
        assert "Trainer: epoch 1/30" in progress_lines

    before = _states(output_dir)
    assert before[killed_in] == "running"
    assert "Pusher" not in before

    # The same command again: the lock died with the process; what finished is reused.
    assert cli.main(["run", *args]) == 0
    after = _states(output_dir)
    assert after[killed_in] == "ran"
    upstream = ["AclImdbExampleGen", "StatisticsGen", "ExampleValidator", "DataValidationGate"]
    if killed_in == "Trainer":
        upstream.append("Transform")
    assert all(after[node] == "cached" for node in upstream), after
    assert after["Pusher"] == "ran"

    # ML Metadata: the killed execution is canceled, its half-written outputs abandoned, nothing left running.
    store = metadata.open_store(layout.output_paths(output_dir).metadata)
    states = [metadata.EXECUTION_STATES[e.last_known_state] for e in store.get_executions()]
    assert "running" not in states and states.count("canceled") == 1
    assert layout.latest_serving_model(layout.output_paths(output_dir).serving_model)


def _tree(folder):
    listing = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            with open(path, "rb") as f:
                listing[os.path.relpath(path, folder)] = f.read()
    return listing


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs; skipped where this process may not mount one."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up here: {result.stderr.strip()}")
    try:
        yield str(mount_point)
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_is_reported_and_the_last_good_model_kept(tmp_path, small_disk, capsys):
    data_dir = str(tmp_path / "aclImdb")
    corpus.write_corpus(data_dir, train_per_label=150, test_per_label=40)
    output_dir = os.path.join(small_disk, "out")
    args = ["run", "--data-dir", data_dir, "--output-dir", output_dir, *SMALL_RUN]
    assert cli.main(args) == 0
    paths = layout.output_paths(output_dir)
    served = _tree(paths.serving_model)
    published = _tree(paths.projector)
    assert served and published

    stats = os.statvfs(small_disk)
    with open(os.path.join(small_disk, "filler"), "wb") as filler:
        filler.write(b"\0" * (stats.f_bavail * stats.f_frsize - 256 * 1024))
    capsys.readouterr()
    assert cli.main([*args, "--no-cache"]) == 4
    err = capsys.readouterr().err
    assert "error: the disk is full" in err and "Fix: free space" in err
    assert "Traceback" not in err
    assert _tree(paths.serving_model) == served
    assert _tree(paths.projector) == published

    # With space again, the next run completes.
    os.remove(os.path.join(small_disk, "filler"))
    assert cli.main([*args, "--no-cache"]) == 0
    # --no-cache: every component ran again, none came from the cache.
    store = metadata.open_store(paths.metadata)
    last_run = metadata.component_runs(store, PIPELINE_NAME, metadata.latest_run_id(store, PIPELINE_NAME))
    assert last_run and {c.state for c in last_run} == {nodes.RAN}

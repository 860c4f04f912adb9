"""Command-line errors: a short message naming the value and the fix, exit code 2, no traceback."""

import os
import subprocess
import sys

import pytest

from pipeline import cli
from pipeline.cli import outputs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize(
    "options, message",
    [
        (["--epochs", "-1"], "invalid --epochs: epochs must be a positive integer, got -1. Fix: pass --epochs a "
                             "positive integer."),
        (["--vocab-size", "0"], "invalid --vocab-size: vocab_size must be a positive integer, got 0"),
        (["--sequence-length", "0"], "invalid --sequence-length"),
        (["--learning-rate", "-0.1"], "invalid --learning-rate"),
        (["--eval-percent", "0"], "invalid --eval-percent: eval_percent must be between 1 and 99, got 0. Fix: pass "
                                  "--eval-percent between 1 and 99."),
    ],
)
def test_invalid_option_values(options, message, tmp_path, small_corpus, capsys):
    root, _ = small_corpus
    code = cli.main(["run", "--data-dir", root, "--output-dir", str(tmp_path / "out"), *options])
    assert code == 2
    assert message in capsys.readouterr().err


def test_output_dir_that_is_a_file(tmp_path, small_corpus, capsys):
    root, _ = small_corpus
    (tmp_path / "out").write_text("not a folder")
    assert cli.main(["run", "--data-dir", root, "--output-dir", str(tmp_path / "out")]) == 2
    assert "is a file. Fix: pass another --output-dir" in capsys.readouterr().err


def test_missing_data_dir_exits_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "pipeline.py", "run", "--data-dir", str(tmp_path / "nowhere"),
         "--output-dir", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert "does not exist. Fix: pass the aclImdb folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_documents_every_option():
    result = subprocess.run([sys.executable, "pipeline.py", "run", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0
    for option in ("--data-dir", "--output-dir", "--preset", "--epochs", "--batch-size", "--vocab-size",
                   "--sequence-length", "--num-oov-buckets", "--embedding-dim", "--learning-rate",
                   "--probe-words", "--no-cache", "--beam-arg"):
        assert option in result.stdout


def test_a_second_run_on_the_same_output_stops_at_once(tmp_path, small_corpus, capsys):
    from pipeline import layout

    root, _ = small_corpus
    output = tmp_path / "out"
    output.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pipeline import layout\n"
         "with layout.output_lock(sys.argv[1]):\n"
         "    print('locked', flush=True); time.sleep(120)", str(output)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert cli.main(["run", "--data-dir", root, "--output-dir", str(output)]) == 2
        err = capsys.readouterr().err
        assert f"Another run is using the output folder {output} (pid {holder.pid}" in err
        assert "pass another --output-dir" in err
    finally:
        holder.kill()
        holder.wait()
    # The kernel released the lock of the killed holder.
    with layout.output_lock(str(output)):
        pass


def test_an_empty_label_folder_exits_with_the_folder_named(tmp_path, small_corpus, capsys):
    root, _ = small_corpus
    neg = os.path.join(root, "train", "neg")
    for name in os.listdir(neg):
        os.remove(os.path.join(neg, name))
    assert cli.main(["run", "--data-dir", root, "--output-dir", str(tmp_path / "out")]) == 2
    assert f"error: {neg} holds no review (*.txt)" in capsys.readouterr().err


def test_quiet_and_verbose_set_what_is_printed():
    import logging

    progress = logging.getLogger("imdb_embeddings")
    absl_logger = logging.getLogger("absl")
    saved = progress.level, absl_logger.level, [h.level for h in logging.getLogger().handlers]
    try:
        cli.configure_output(quiet=True)
        assert not progress.isEnabledFor(logging.INFO) and progress.isEnabledFor(logging.WARNING)
        assert all(h.level == logging.ERROR for h in logging.getLogger().handlers)
        cli.configure_output()
        assert progress.isEnabledFor(logging.INFO)
        cli.configure_output(verbose=True)
        assert absl_logger.isEnabledFor(logging.INFO)
        assert all(h.level == logging.INFO for h in logging.getLogger().handlers)
    finally:
        progress.setLevel(saved[0])
        absl_logger.setLevel(saved[1])
        for handler, level in zip(logging.getLogger().handlers, saved[2]):
            handler.setLevel(level)


def test_debug_shows_the_traceback_instead_of_the_one_line(tmp_path):
    with pytest.raises(cli.UsageError, match="invalid --epochs"):
        cli.main(["--debug", "run", "--epochs", "-1", "--output-dir", str(tmp_path / "out")])


@pytest.mark.parametrize("raised, code, message", [
    (RuntimeError("boom"), 1, "error: the pipeline failed: RuntimeError: boom"),
    (KeyboardInterrupt(), 130, "interrupted: finished components are cached; run the same command again to resume"),
])
def test_a_failure_and_an_interruption_have_their_exit_codes(raised, code, message, monkeypatch, tmp_path, capsys):
    def fail(_):
        raise raised

    monkeypatch.setattr(outputs, "_runs", fail)
    assert cli.main(["runs", "--output-dir", str(tmp_path)]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    if code == 1:
        assert "re-run with --debug for the traceback" in err
        with pytest.raises(RuntimeError, match="boom"):
            cli.main(["--debug", "runs", "--output-dir", str(tmp_path)])


def test_the_download_cache_is_the_option_else_the_environment_else_the_users_cache(monkeypatch, tmp_path):
    from pipeline import data

    fetched = []
    monkeypatch.setattr(data, "fetch_dataset", lambda cache_dir, **_: fetched.append(cache_dir) or str(tmp_path))
    monkeypatch.setattr(data, "check_dataset_dir", lambda path, **_: path)
    for name in (data.DATA_DIR_ENV, data.CACHE_DIR_ENV, "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data.resolve_data_dir(None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    data.resolve_data_dir(None)
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(tmp_path / "env"))
    data.resolve_data_dir(None)
    data.resolve_data_dir(None, str(tmp_path / "option"))
    assert fetched == [str(tmp_path / "home" / ".cache" / "imdb-embeddings"), str(tmp_path / "xdg" / "imdb-embeddings"),
                       str(tmp_path / "env"), str(tmp_path / "option")]
    # A data folder given (or $ACLIMDB_DIR) is used as it is: nothing is fetched.
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "given"))
    assert data.resolve_data_dir(None) == str(tmp_path / "given") and len(fetched) == 4


def _report(blessed, pushed, span_baseline=None):
    from pipeline.records.evaluation import EvaluationSummary
    from pipeline.records.results import RunReport

    evaluation = EvaluationSummary(metrics={"binary_accuracy": 0.8}, baseline_metrics={}, blessed=blessed, failures=[],
                                   span_baseline_accuracy=span_baseline or {})
    return RunReport(run_id="r", seconds=1.0, components=[], projector_dir="/p", serving_model_dir="/s/200",
                     training_summary={}, split_counts={}, neighbours={}, evaluation=evaluation, input_report={},
                     pushed_new_version=pushed)


@pytest.mark.parametrize("report, code", [
    (_report(blessed=True, pushed=True), 0),
    (_report(blessed=True, pushed=False), 0),
    (_report(blessed=False, pushed=False), 5),
    # The served model scores far worse on the newest span: a data warning, whatever the verdict.
    (_report(blessed=False, pushed=False, span_baseline={1: 0.9, 2: 0.9, 3: 0.1}), 6),
    (_report(blessed=True, pushed=True, span_baseline={1: 0.9, 2: 0.1}), 6),
])
def test_retrain_exits_with_the_code_of_its_outcome(report, code, tmp_path, monkeypatch, capsys):
    from pipeline.runners import retrain_runner

    for label in ("pos", "neg"):
        (tmp_path / "spans" / "span-1" / "train" / label).mkdir(parents=True)
        (tmp_path / "spans" / "span-1" / "train" / label / "0_9.txt").write_text("A review.")
    monkeypatch.setattr(retrain_runner, "retrain", lambda run: report)
    assert cli.main(["retrain", "--data-dir", str(tmp_path / "spans"), "--output-dir", str(tmp_path / "out")]) == code
    assert "Evaluation" in capsys.readouterr().out


def test_a_failed_iteration_is_recorded_in_the_status_file_of_a_used_output_folder(tmp_path, monkeypatch, capsys):
    from pipeline import layout
    from pipeline.records import status
    from pipeline.runners import retrain_runner

    for label in ("pos", "neg"):
        (tmp_path / "spans" / "span-1" / "train" / label).mkdir(parents=True)
        (tmp_path / "spans" / "span-1" / "train" / label / "0_9.txt").write_text("A review.")

    def fail(run):
        raise RuntimeError("the Trainer ran out of memory")

    monkeypatch.setattr(retrain_runner, "retrain", fail)
    argv = ["retrain", "--data-dir", str(tmp_path / "spans"), "--output-dir", str(tmp_path / "out")]
    # An output folder no run used yet gets no status file.
    (tmp_path / "out").mkdir()
    assert cli.main(argv) == 1 and status.read(str(tmp_path / "out")) is None
    (tmp_path / "out" / "metadata.sqlite").write_bytes(b"")
    assert cli.main(argv) == 1
    written = status.read(str(tmp_path / "out"))
    assert written["outcome"] == status.FAILED and written["exit_code"] == 1
    assert written["error"] == "RuntimeError: the Trainer ran out of memory"
    # Held by another run: that run writes the file.
    with layout.output_lock(str(tmp_path / "out")):
        monkeypatch.setattr(retrain_runner, "retrain", lambda run: (_ for _ in ()).throw(KeyboardInterrupt()))
        assert cli.main(argv) == 130
    assert status.read(str(tmp_path / "out")) == written
    capsys.readouterr()


@pytest.mark.parametrize("argv, message", [
    (["run", "--preset", "nope"], "argument --preset: invalid choice: 'nope' (choose from 'fasttext', 'tutorial', "
                                  "'word2vec')"),
    (["run", "--epochs", "abc"], "argument --epochs: invalid int value: 'abc'"),
    (["predict", "--file", "/nowhere/reviews.txt"], "cannot read --file /nowhere/reviews.txt: No such file or "
                                                    "directory. Fix: pass a text file with one review a line"),
])
def test_a_malformed_option_is_one_line_with_the_fix(argv, message):
    result = subprocess.run([sys.executable, "pipeline.py", *argv], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert message in line and "Fix: " in line


def test_help_names_each_default_once():
    result = subprocess.run([sys.executable, "pipeline.py", "run", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=dict(os.environ, COLUMNS="400"))
    assert "(default: False) (default: False)" not in result.stdout
    word2vec_help = result.stdout.split("--word2vec, --no-word2vec\n", 1)[1].splitlines()[0].strip()
    assert word2vec_help.startswith("also learn word embeddings") and word2vec_help.endswith(" (default: False)")


def test_compile_for_vertex_names_its_json_file_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compile", "--target", "vertex", "--image", "i:1", "--pipeline-root", "gs://b/r", "--data-root",
                     "gs://b/aclImdb", "--no-spans", "--no-test-split"]) == 0
    assert (tmp_path / "imdb-word-embeddings.json").is_file()
    assert "Wrote imdb-word-embeddings.json (vertex;" in capsys.readouterr().out


def test_a_missing_data_folder_leaves_no_output_folder_and_retrain_offers_no_download(tmp_path, capsys):
    assert cli.main(["run", "--data-dir", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "out")]) == 2
    assert "omit --data-dir to download the dataset" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert cli.main(["retrain", "--data-dir", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "or span-N/ folders) with --data-dir." in err and "download" not in err
    assert not (tmp_path / "out").exists()

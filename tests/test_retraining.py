"""Scheduled retraining, simulated over generated spans with LocalDagRunner: 31 iterations of a schedule as an
operator meets it, keeping the artifacts of the newest 2 runs and 2 served versions.

Span 1 trains and pushes; span 2 warm-starts and pushes a model at least as good; span 3 has every label flipped
and is refused with a data warning; the operator excludes it (``span-3/EXCLUDE``), and the window of spans 1 and 2
is judged again, pushing nothing; span 2's files are replaced, the window is read again and pushed, while the
deletion of older artifacts after it is killed; every other call finds nothing new and trains nothing (the first
of them finishes the deletion). From the second run on, the disk holds the artifacts of the newest two runs and
nothing else, every artifact ML Metadata calls live is on disk, and each iteration's exit code and
``status.json`` say what happened."""

import dataclasses
import os
import shutil
import subprocess
import sys

import pytest
from ml_metadata.proto import metadata_store_pb2

from components.example_gen import EXCLUDE_MARKER, aclimdb
from components.model import features
from components.model.hparams import HParams
from pipeline import cli, data, layout
from pipeline.definition import nodes
from pipeline.definition.settings import PIPELINE_NAME, PipelineSettings, RetentionSettings, RunSettings
from pipeline.records import metadata, retention, status
from pipeline.runners import retrain_runner
from tests import corpus, isolation

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Bigrams hashed into 64 rows after the words', each review's ids unpadded: the warm start carries
# the hashed rows over as a block.
HPARAMS = HParams(vocab_size=200, sequence_length=40, epochs=20, batch_size=32, learning_rate=0.01, ngram_size=2,
                  ngram_buckets=64, ragged_ids=True)
PER_LABEL = 120
KEEP_RUNS, KEEP_VERSIONS = 2, 2
# The same settings as options of `retrain` (HParams' defaults are the tutorial preset's).
OPTIONS = ["--preset", "tutorial", "--vocab-size", "200", "--sequence-length", "40", "--epochs", "20", "--batch-size",
           "32", "--learning-rate", "0.01", "--ngram-size", "2", "--ngram-buckets", "64", "--ragged-ids",
           "--keep-runs", str(KEEP_RUNS), "--keep-versions", str(KEEP_VERSIONS)]
NOTHING = ("nothing new",)
# The schedule, one entry an iteration: what the operator (or the world) did before it.
SCHEDULE = [("span", 1), NOTHING, NOTHING, ("span", 2), NOTHING, NOTHING, ("span", 3), NOTHING, NOTHING,
            ("exclude", 3), NOTHING, NOTHING, NOTHING, ("replace", 2), *[NOTHING] * 17]
KILLED_PRUNE = SCHEDULE.index(("replace", 2))


def _vocabulary(report):
    import tensorflow_transform as tft

    (transform,) = [c for c in report.components if c.node_id == nodes.TRANSFORM]
    return tft.TFTransformOutput(transform.output_uri("transform_graph")).vocabulary_by_name(features.VOCABULARY_NAME)


def _states(output_dir):
    store = metadata.open_store(layout.output_paths(output_dir).metadata)
    run_id = metadata.latest_run_id(store, PIPELINE_NAME)
    return {c.node_id: c.state for c in metadata.component_runs(store, PIPELINE_NAME, run_id)}


def _bytes(path):
    return sum(os.path.getsize(os.path.join(parent, name)) for parent, _, names in os.walk(path) for name in names)


def _artifact_folders(pipeline_root):
    """The folders under the pipeline root where TFX's local runner puts artifacts: NODE/KEY/EXECUTION_ID."""
    found = set()
    for node in os.listdir(pipeline_root):
        if node.startswith("."):
            continue
        for key in os.listdir(os.path.join(pipeline_root, node)):
            if not key.startswith("."):
                found.update(os.path.join(pipeline_root, node, key, name)
                             for name in os.listdir(os.path.join(pipeline_root, node, key)))
    return found


def _newest_runs_artifacts(output_dir):
    """The URIs of the artifacts the newest KEEP_RUNS runs read or wrote, by ML Metadata's events."""
    store = metadata.open_store(layout.output_paths(output_dir).metadata)
    return {a.uri for a in store.get_artifacts_by_id(list(retention.kept_artifact_ids(store, PIPELINE_NAME,
                                                                                        KEEP_RUNS)))}


def _artifacts_by_state(output_dir):
    store = metadata.open_store(layout.output_paths(output_dir).metadata)
    found = {}
    for artifact in metadata.pipeline_artifacts(store, PIPELINE_NAME):
        found.setdefault(metadata_store_pb2.Artifact.State.Name(artifact.state), []).append(artifact)
    return found


class _KilledPrune(BaseException):
    """Stands for the SIGKILL of a deletion under way (a BaseException, as KeyboardInterrupt is)."""


def _kill_second_removal(monkeypatch):
    """The prune dies as it moves its second folder out of view: the first is gone, the rest in place."""
    removals = []
    real = retention._remove  # pylint: disable=protected-access

    def remove(path, hidden):
        removals.append(path)
        if len(removals) == 2:
            raise _KilledPrune()
        real(path, hidden)

    monkeypatch.setattr(retention, "_remove", remove)


@pytest.fixture(scope="module")
def schedule(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("spans"))
    output_dir = str(tmp_path_factory.mktemp("out"))
    paths = layout.output_paths(output_dir)
    run = RunSettings(data_dir=data_dir, output_dir=output_dir, hparams=HPARAMS,
                      settings=PipelineSettings(keep_versions=KEEP_VERSIONS),
                      retention=RetentionSettings(keep_runs=KEEP_RUNS))
    iterations = []
    known_bytes, deleted = {}, set()  # each artifact's bytes while it was on disk; the artifacts deleted so far
    for index, step in enumerate(SCHEDULE):
        if step[0] == "span":
            # Equal file names in every span: the span in each id keeps them apart.
            corpus.write_corpus(os.path.join(data_dir, f"span-{step[1]}"), train_per_label=PER_LABEL,
                                test_per_label=None, seed=step[1], flip_train_labels=step[1] == 3)
        elif step[0] == "exclude":
            with open(os.path.join(data_dir, f"span-{step[1]}", EXCLUDE_MARKER), "w", encoding="utf-8") as f:
                f.write("labels flipped\n")
        elif step[0] == "replace":
            shutil.rmtree(os.path.join(data_dir, f"span-{step[1]}"))
            corpus.write_corpus(os.path.join(data_dir, f"span-{step[1]}"), train_per_label=PER_LABEL,
                                test_per_label=None, seed=40 + step[1])
        served_before = isolation.tree_bytes(paths.serving_model)
        killed = None
        with pytest.MonkeyPatch.context() as patch:
            if index == KILLED_PRUNE:
                _kill_second_removal(patch)
            try:
                result = retrain_runner.retrain(run)
            except _KilledPrune:
                result, killed = None, _artifacts_by_state(output_dir)
        states = _artifacts_by_state(output_dir)
        served_after = isolation.tree_bytes(paths.serving_model)
        known_bytes.update({a.uri: _bytes(a.uri) for a in states.get("LIVE", []) if a.uri not in known_bytes})
        newly_deleted = {a.uri for a in states.get("DELETED", [])} - deleted
        deleted |= newly_deleted
        iterations.append({
            "step": step, "result": result, "killed": killed, "status": status.read(output_dir),
            "served_before": served_before, "served_after": served_after,
            "bytes": {"tfx": _bytes(paths.pipeline_root), "serving_model": _bytes(paths.serving_model),
                      "metadata": os.path.getsize(paths.metadata)},
            # What a folder without retention would hold besides: the bytes deleted so far.
            "deleted_bytes": (iterations[-1]["deleted_bytes"] if iterations else 0)
            + sum(known_bytes.get(uri, 0) for uri in newly_deleted)
            + sum(len(data) for path, data in served_before.items() if path not in served_after),
            "live": {a.uri for a in states.get("LIVE", [])},
            "marked": {a.uri for a in states.get("MARKED_FOR_DELETION", [])},
            "folders": _artifact_folders(paths.pipeline_root),
            "newest_runs": _newest_runs_artifacts(output_dir),
            "vocabulary": len(_vocabulary(result)) if result is not None and hasattr(result, "components") else None,
        })
    print("iteration, step, MB (tfx, serving_model, metadata), MB without retention:")
    for index, iteration in enumerate(iterations):
        print(index + 1, iteration["step"], {k: round(v / 1e6, 2) for k, v in iteration["bytes"].items()},
              round((sum(iteration["bytes"].values()) + iteration["deleted_bytes"]) / 1e6, 2))
    print("plot:", _plot(iterations, str(tmp_path_factory.mktemp("plot") / "disk_per_iteration.png")))
    return run, iterations


def _plot(iterations, path):
    """The output folder's size after each iteration, by part (the figure of docs/retraining.md)."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    from matplotlib import pyplot  # pylint: disable=import-outside-toplevel

    figure, axes = pyplot.subplots(figsize=(8, 3.5))
    numbers = range(1, len(iterations) + 1)
    bottom = [0.0] * len(iterations)
    for part in ("tfx", "serving_model", "metadata"):
        values = [i["bytes"][part] / 1e6 for i in iterations]
        axes.bar(numbers, values, bottom=bottom, label=part)
        bottom = [b + v for b, v in zip(bottom, values)]
    axes.plot(numbers, [b + i["deleted_bytes"] / 1e6 for b, i in zip(bottom, iterations)], "k--", drawstyle="steps-mid",
              label="without retention")
    for index, iteration in enumerate(iterations):
        if iteration["step"] != NOTHING:
            axes.annotate(" ".join(map(str, iteration["step"])), (index + 1, bottom[index]), rotation=90, fontsize=7,
                          ha="center", va="bottom")
    axes.set_xlabel("iteration")
    axes.set_ylabel("MB")
    axes.set_title(f"Output folder after each retrain iteration (--keep-runs {KEEP_RUNS} --keep-versions {KEEP_VERSIONS})")
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def _report(iterations, step):
    return next(i["result"] for i in iterations if i["step"] == step)


def _iteration(iterations, step):
    return next(i for i in iterations if i["step"] == step)


def test_span_1_trains_from_scratch_and_is_pushed(schedule):
    _, iterations = schedule
    first = _iteration(iterations, ("span", 1))
    report = first["result"]
    assert {c.node_id: c.state for c in report.components}[nodes.TRAINER] == "ran"
    assert report.training_summary["warm_start"]["source"] is None
    assert report.evaluation.blessed and first["served_before"] == {} and first["served_after"]
    assert set(report.evaluation.span_accuracy) == {1}
    assert report.split_counts["train"] + report.split_counts["eval"] == 2 * PER_LABEL
    assert first["status"]["outcome"] == status.PUSHED and first["status"]["exit_code"] == report.exit_code() == 0
    assert first["status"]["span"] == 1 and first["status"]["pushed_version"] == os.path.basename(
        report.serving_model_dir)


def test_span_2_reads_the_window_warm_starts_and_is_at_least_as_good(schedule):
    _, iterations = schedule
    second = _iteration(iterations, ("span", 2))
    report = second["result"]
    assert report.split_counts["train"] + report.split_counts["eval"] == 2 * 2 * PER_LABEL  # spans 1 and 2
    warm = report.training_summary["warm_start"]
    # The base model is the one iteration 1 pushed: the ServedModel step's copy of the newest served version.
    (served_model,) = [c for c in report.components if c.node_id == nodes.SERVED_MODEL]
    assert warm["source"] == os.path.join(served_model.output_uri("model"), "Format-Serving")
    pushed_by_first = os.path.basename(_report(iterations, ("span", 1)).serving_model_dir)
    assert served_model.outputs["model"][0].custom_properties["served_version"].string_value == pushed_by_first
    # Same generator, same words: every row of the new vocabulary was in the old one, and the 64 hashed
    # bigram rows came over as a block.
    assert warm["rows_carried"] == report.training_summary["embedding_rows"] and warm["rows_new"] == 0
    assert report.training_summary["embedding_rows"] == 1 + 1 + second["vocabulary"] + 64
    assert report.evaluation.blessed
    assert set(report.evaluation.span_accuracy) == {1, 2}
    assert report.evaluation.metrics["binary_accuracy"] >= report.evaluation.baseline_metrics["binary_accuracy"]
    assert len(second["served_after"]) > len(second["served_before"])  # a second version pushed


def test_span_3_with_flipped_labels_is_refused_with_a_data_warning_and_the_served_model_kept(schedule):
    run, iterations = schedule
    third = _iteration(iterations, ("span", 3))
    report = third["result"]
    assert {c.node_id: c.state for c in report.components}[nodes.TRAINER] == "ran"
    assert not report.evaluation.blessed
    assert third["served_after"] == third["served_before"]  # byte for byte
    assert report.serving_model_dir == _report(iterations, ("span", 2)).serving_model_dir
    # Each old span is held to the blessing conditions on its own.
    assert any(failure.startswith("span 1: binary_accuracy") for failure in report.evaluation.failures)
    assert report.evaluation.span_baseline_accuracy[3] < 0.2 < 0.8 < report.evaluation.span_baseline_accuracy[1]
    warning = report.evaluation.data_problem()
    assert "likely a data problem in span 3" in warning and f"span-3/{EXCLUDE_MARKER}" in warning
    # The scheduler sees it: the data warning's exit code, and the status file says the rest.
    assert report.exit_code() == status.EXIT_DATA_WARNING == third["status"]["exit_code"]
    assert third["status"]["outcome"] == status.REFUSED and third["status"]["warnings"] == [warning]
    assert third["status"]["pushed_version"] is None and third["status"]["span"] == 3
    # ML Metadata records the refusal.
    store = metadata.open_store(layout.output_paths(run.output_dir).metadata)
    blessings = store.get_artifacts_by_type("ModelBlessing")
    assert [b.custom_properties["blessed"].int_value for b in sorted(blessings, key=lambda b: b.id)][:3] == [1, 1, 0]


def test_an_excluded_span_leaves_the_window_and_its_data_is_judged_again_without_a_push(schedule):
    _, iterations = schedule
    excluded = _iteration(iterations, ("exclude", 3))
    report = excluded["result"]
    (examples,) = [c for c in report.components if c.node_id == nodes.EXAMPLE_GEN]
    assert examples.outputs["examples"][0].custom_properties["span"].int_value == 2
    fingerprint = examples.outputs["examples"][0].custom_properties["input_fingerprint"].string_value
    assert [line.split(":")[0] for line in fingerprint.splitlines()] == ["span-1/train/*/*.txt", "span-2/train/*/*.txt"]
    # The served model was trained on exactly this window: nothing to push.
    assert excluded["served_after"] == excluded["served_before"] and excluded["status"]["pushed_version"] is None
    following = iterations[iterations.index(excluded) + 1]
    assert isinstance(following["result"], retrain_runner.NoNewSpan) and following["result"].span == 2
    assert following["status"]["excluded_spans"] == [3] and following["status"]["outcome"] == status.NOTHING_NEW


def test_replaced_files_in_a_span_are_read_again(schedule):
    run, iterations = schedule
    replaced = _iteration(iterations, ("replace", 2))
    # The newest span is the one the exclusion's run judged; its files are not.
    assert isinstance(iterations[iterations.index(replaced) - 1]["result"], retrain_runner.NoNewSpan)
    # The last run of the schedule (its report was cut short by the killed deletion; ML Metadata has it).
    states = _states(run.output_dir)
    assert states[nodes.EXAMPLE_GEN] == states[nodes.TRAINER] == "ran"
    assert replaced["status"]["span"] == 2 and replaced["status"]["outcome"] == status.PUSHED
    assert replaced["served_after"] != replaced["served_before"]


@pytest.mark.parametrize("index", [i for i, step in enumerate(SCHEDULE) if step == NOTHING])
def test_a_call_with_nothing_new_trains_nothing_and_says_so(schedule, index):
    _, iterations = schedule
    iteration = iterations[index]
    assert isinstance(iteration["result"], retrain_runner.NoNewSpan)
    assert iteration["served_after"] == iteration["served_before"]
    assert iteration["status"]["outcome"] == status.NOTHING_NEW and iteration["status"]["exit_code"] == 0
    if index == KILLED_PRUNE + 1:  # it finishes the killed deletion
        assert iteration["bytes"]["tfx"] < iterations[index - 1]["bytes"]["tfx"]
    else:
        assert iteration["bytes"]["tfx"] == iterations[index - 1]["bytes"]["tfx"]


def test_the_output_folder_holds_the_newest_two_runs_and_two_served_versions(schedule):
    _, iterations = schedule
    for index, iteration in enumerate(iterations):
        versions = {path.split(os.sep)[0] for path in iteration["served_after"]}
        assert len(versions) <= KEEP_VERSIONS, versions
        # Every artifact ML Metadata calls live is on disk, and no folder is left that it does not.
        assert iteration["live"] <= iteration["folders"] <= iteration["live"] | iteration["marked"], iteration["step"]
        if index != KILLED_PRUNE:
            # The disk holds what the newest two runs read or wrote, and nothing else: it stops growing.
            assert iteration["folders"] == iteration["newest_runs"], iteration["step"]
    final = iterations[-1]
    assert sum(final["bytes"].values()) < 0.6 * (sum(final["bytes"].values()) + final["deleted_bytes"])


def test_a_killed_deletion_is_harmless_and_finished_by_the_next_call(schedule):
    run, iterations = schedule
    killed = iterations[KILLED_PRUNE]["killed"]
    # Marked before any folder moved: the cache takes none of them up; none ML Metadata calls live is missing.
    assert killed.get("MARKED_FOR_DELETION")
    assert iterations[KILLED_PRUNE]["live"] <= iterations[KILLED_PRUNE]["folders"]
    trash = os.path.join(layout.output_paths(run.output_dir).pipeline_root, retention.DELETING_FOLDER)
    # The run itself was complete, and said so before the deletion started: the next call finds nothing new.
    assert iterations[KILLED_PRUNE]["status"]["outcome"] == status.PUSHED
    assert iterations[KILLED_PRUNE]["status"]["span"] == 2 and iterations[KILLED_PRUNE]["status"]["pruned"] is None
    assert isinstance(iterations[KILLED_PRUNE + 1]["result"], retrain_runner.NoNewSpan)
    # Which finishes the deletion: nothing stays marked, nothing waits under .deleting/.
    assert not iterations[KILLED_PRUNE + 1]["marked"] and iterations[KILLED_PRUNE + 1]["live"] == \
        iterations[KILLED_PRUNE + 1]["folders"]
    final = _artifacts_by_state(run.output_dir)
    assert not final.get("MARKED_FOR_DELETION") and not os.path.exists(trash)
    assert all(not os.path.exists(a.uri) for a in final["DELETED"])
    assert all(os.path.exists(a.uri) for a in final["LIVE"])


def test_a_call_with_no_new_span_answers_on_the_command_line(schedule, capsys):
    run, _ = schedule
    store = metadata.open_store(layout.output_paths(run.output_dir).metadata)
    runs_before = len(metadata.run_ids(store, PIPELINE_NAME))
    served = isolation.tree_bytes(layout.output_paths(run.output_dir).serving_model)
    assert cli.main(["retrain", "--data-dir", run.data_dir, "--output-dir", run.output_dir, *OPTIONS, "--quiet"]) == 0
    assert "no new span since span 2" in capsys.readouterr().out
    store = metadata.open_store(layout.output_paths(run.output_dir).metadata)
    assert len(metadata.run_ids(store, PIPELINE_NAME)) == runs_before
    assert isolation.tree_bytes(layout.output_paths(run.output_dir).serving_model) == served
    assert cli.main(["runs", "--output-dir", run.output_dir]) == 0
    shown = capsys.readouterr().out
    assert "(artifacts deleted)" in shown and "Last iteration (retrain, " in shown and ": nothing new, span 2" in shown


def test_no_new_span_is_answered_from_ml_metadata_without_tensorflow_or_tfx(schedule):
    run, _ = schedule
    # A fresh interpreter, as cron starts one: which modules did the answer load?
    probe = ("import json, sys; from pipeline import cli\n"
             "code = cli.main(sys.argv[1:])\n"
             "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'tfx', 'apache_beam'})]))")
    result = subprocess.run([sys.executable, "-c", probe, "retrain", "--data-dir", run.data_dir,
                             "--output-dir", run.output_dir, *OPTIONS], cwd=ROOT, capture_output=True, text=True,
                            check=True)
    assert "no new span since span 2" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[0, []]"


def test_other_settings_a_new_test_split_or_no_cache_are_not_nothing_new(schedule):
    run, _ = schedule
    paths = layout.output_paths(run.output_dir)
    spans = data.list_spans(run.data_dir)
    judged = retrain_runner.last_judged(paths.metadata, PIPELINE_NAME)
    last = status.read(run.output_dir)
    assert retrain_runner.nothing_new(run, spans, judged, last)
    other = dataclasses.replace(run, hparams=dataclasses.replace(HPARAMS, epochs=21))
    assert not retrain_runner.nothing_new(other, spans, judged, last)
    assert not retrain_runner.nothing_new(dataclasses.replace(run, enable_cache=False), spans, judged, last)
    assert not retrain_runner.nothing_new(run, spans, judged, None)  # no record of the settings
    # The newest span gains a test/ split: the ExampleGen would read it, so it is new.
    test_split = os.path.join(run.data_dir, f"span-{spans[-1]}", "test")
    for label in ("pos", "neg"):
        os.makedirs(os.path.join(test_split, label))
        with open(os.path.join(test_split, label, "0_9.txt"), "w", encoding="utf-8") as f:
            f.write("A review.")
    try:
        assert not retrain_runner.nothing_new(run, spans, judged, last)
    finally:
        shutil.rmtree(test_split)
    assert retrain_runner.nothing_new(run, spans, judged, last)


def test_the_span_and_fingerprint_properties_are_tfx_s():
    from tfx.components.example_gen.utils import FINGERPRINT_PROPERTY_NAME, SPAN_PROPERTY_NAME

    assert retrain_runner.SPAN_PROPERTY == SPAN_PROPERTY_NAME
    assert retrain_runner.INPUT_FINGERPRINT_PROPERTY == FINGERPRINT_PROPERTY_NAME


def test_review_ids_carry_their_span(schedule):
    run, _ = schedule
    store = metadata.open_store(layout.output_paths(run.output_dir).metadata)
    (examples,) = [c for c in metadata.component_runs(store, PIPELINE_NAME, metadata.latest_run_id(store, PIPELINE_NAME))
                   if c.node_id == nodes.EXAMPLE_GEN]
    assert examples.outputs["examples"][0].custom_properties["span"].int_value == 2
    import tensorflow as tf

    files = tf.io.gfile.glob(os.path.join(examples.outputs["examples"][0].uri, "Split-*", "*.gz"))
    ids = [tf.train.Example.FromString(r.numpy()).features.feature[aclimdb.ID_KEY].bytes_list.value[0].decode()
           for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    # The window of the newest 3 spans, span 3 excluded: spans 1 and 2 (replaced).
    assert len(ids) == len(set(ids)) == 2 * 2 * PER_LABEL
    assert {i.split("/")[0] for i in ids} == {"span-1", "span-2"}


def test_a_second_iteration_at_once_stops(schedule, capsys):
    run, _ = schedule
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pipeline import layout\n"
         "with layout.output_lock(sys.argv[1]):\n"
         "    print('locked', flush=True); time.sleep(120)", run.output_dir],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = status.read(run.output_dir)
        assert cli.main(["retrain", "--data-dir", run.data_dir, "--output-dir", run.output_dir]) == 2
        assert f"Another run is using the output folder {run.output_dir}" in capsys.readouterr().err
        assert status.read(run.output_dir) == before  # the running iteration's to write
    finally:
        holder.kill()
        holder.wait()

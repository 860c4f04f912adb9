"""The served model as a pipeline input: found under the serving folder, copied into a Model artifact, never
the candidate itself; the Evaluator without a baseline when none is served; the Pusher leaving a served model
alone."""

import os

import tensorflow as tf
from tfx.components.evaluator import executor as evaluator_executor
from tfx.orchestration.portable import data_types
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.served_model import (
    CANDIDATE_KEY, INPUT_FINGERPRINT_KEY, MODEL_KEY, SERVED_VERSION_KEY, SERVING_MODEL_DIR_KEY, served)
from components.served_model.driver import ServedModelDriver
from components.served_model.executor import EvaluatorExecutor, Executor, PusherExecutor


def _save(folder, value):
    module = tf.Module()
    module.weight = tf.Variable(value)
    tf.saved_model.save(module, str(folder))
    return str(folder)


def _serving_folder(tmp_path):
    """Versions 100 and 200 of two different models, 300 still being copied (no saved_model.pb yet)."""
    serving = tmp_path / "serving"
    first, second = _save(tmp_path / "first", 1.0), _save(tmp_path / "second", 2.0)
    served.copy_tree(first, str(serving / "100"))
    served.copy_tree(second, str(serving / "200"))
    (serving / "300").mkdir()
    (serving / "300" / "fingerprint.pb").write_bytes(b"partial")
    (serving / "notes").mkdir()
    return str(serving), first, second


def _model(uri):
    model = standard_artifacts.Model()
    model.uri = str(uri)
    return model


def test_versions_newest_first_and_a_model_is_known_by_its_fingerprint(tmp_path):
    serving, first, second = _serving_folder(tmp_path)
    assert served.served_versions(serving) == ["200", "100"]
    assert served.served_versions(str(tmp_path / "nowhere")) == []
    assert served.is_served(serving, "200", second) and not served.is_served(serving, "200", first)
    assert served.latest_served_version(serving) == "200"
    # The candidate's own copy is skipped: the model served before it is the baseline.
    assert served.latest_served_version(serving, other_than=second) == "100"
    assert served.latest_served_version(serving, other_than=first) == "200"
    assert served.latest_served_version(str(tmp_path / "nowhere")) == ""


def test_the_executor_copies_the_served_model_where_a_model_artifact_holds_it(tmp_path):
    serving, _, second = _serving_folder(tmp_path)
    candidate = tmp_path / "trainer"
    served.copy_tree(second, str(candidate / "Format-Serving"))
    output = _model(tmp_path / "out")
    Executor().Do({CANDIDATE_KEY: [_model(candidate)]}, {MODEL_KEY: [output]},
                  {SERVING_MODEL_DIR_KEY: serving, SERVED_VERSION_KEY: "200"})
    assert output.get_string_custom_property(SERVED_VERSION_KEY) == "100"
    assert served.is_served(serving, "100", str(tmp_path / "out" / "Format-Serving"))
    assert tf.saved_model.load(str(tmp_path / "out" / "Format-Serving")).weight.numpy() == 1.0

    # The version the probe chose (the newest not trained on this run's data), though a newer one is served;
    # a version that is gone meanwhile falls back to the newest.
    for chosen, copied in (("100", "100"), ("150", "200")):
        warm_start = _model(tmp_path / f"warm-{chosen}")
        Executor().Do({}, {MODEL_KEY: [warm_start]}, {SERVING_MODEL_DIR_KEY: serving, SERVED_VERSION_KEY: chosen})
        assert warm_start.get_string_custom_property(SERVED_VERSION_KEY) == copied

    nothing = _model(tmp_path / "none")
    Executor().Do({}, {MODEL_KEY: [nothing]}, {SERVING_MODEL_DIR_KEY: str(tmp_path / "empty")})
    assert nothing.get_string_custom_property(SERVED_VERSION_KEY) == ""
    assert not os.path.exists(tmp_path / "none" / "Format-Serving")


def test_the_driver_puts_the_served_version_into_the_cache_key(tmp_path):
    serving, _, second = _serving_folder(tmp_path)
    candidate = tmp_path / "trainer"
    served.copy_tree(second, str(candidate / "Format-Serving"))
    driver = ServedModelDriver(None)
    for inputs, expected in (({}, "200"), ({CANDIDATE_KEY: [_model(candidate)]}, "100")):
        info = data_types.ExecutionInfo(input_dict=inputs, exec_properties={SERVING_MODEL_DIR_KEY: serving})
        assert driver.run(info).exec_properties[SERVED_VERSION_KEY].string_value == expected


def test_the_evaluator_has_no_baseline_when_nothing_is_served(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(evaluator_executor.Executor, "Do", lambda self, inputs, outputs, properties: seen.append(inputs))
    nothing, something = _model(tmp_path / "a"), _model(tmp_path / "b")
    nothing.set_string_custom_property(SERVED_VERSION_KEY, "")
    something.set_string_custom_property(SERVED_VERSION_KEY, "200")
    key = standard_component_specs.BASELINE_MODEL_KEY
    examples = standard_artifacts.Examples()
    examples.set_string_custom_property("input_fingerprint", "span-1/train/*/*.txt:files=2")
    for baseline, expected in (([nothing], None), ([something], [something])):
        blessing = standard_artifacts.ModelBlessing()
        EvaluatorExecutor().Do({"model": [_model(tmp_path / "m")], key: baseline, "examples": [examples]},
                               {"blessing": [blessing]}, {})
        assert seen[-1].get(key) == expected
        # What the blessed model was judged on, for the Pusher to record.
        assert blessing.get_string_custom_property(INPUT_FINGERPRINT_KEY) == "span-1/train/*/*.txt:files=2"


def test_the_pusher_does_not_push_the_served_model_again(tmp_path):
    serving, first, second = _serving_folder(tmp_path)
    destination = proto_utils.proto_to_json(pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving)))
    for model_dir, pushed in ((second, 0), (first, 1)):
        model = tmp_path / f"model-{pushed}"
        served.copy_tree(model_dir, str(model / "Format-Serving"))
        blessing = standard_artifacts.ModelBlessing()
        blessing.uri = str(tmp_path / f"blessing-{pushed}")
        blessing.set_int_custom_property("blessed", 1)
        blessing.set_string_custom_property(INPUT_FINGERPRINT_KEY, f"data-{pushed}")
        push = standard_artifacts.PushedModel()
        push.uri = str(tmp_path / f"push-{pushed}")
        PusherExecutor().Do({"model": [_model(model)], "model_blessing": [blessing]}, {"pushed_model": [push]},
                            {standard_component_specs.PUSH_DESTINATION_KEY: destination})
        assert push.get_int_custom_property("pushed") == pushed
    # The second model, the one served, was left alone; the first went out as a new, newest version.
    versions = served.served_versions(serving)
    assert len(versions) == 3 and served.is_served(serving, versions[0], first)
    # The pushed version records the data it was trained on; the probe warm-starts a re-run over that data
    # from the version before it, and a run over other data from it.
    assert served.trained_on(os.path.join(serving, versions[0])) == "data-1"
    assert served.trained_on(os.path.join(serving, "200")) is None
    assert served.warm_start_version(serving, "data-1") == "200"
    assert served.warm_start_version(serving, "data-2") == versions[0]
    # Another model of the data the served one was trained on (a re-run that missed the cache) is not pushed.
    model, push = tmp_path / "model-again", standard_artifacts.PushedModel()
    push.uri = str(tmp_path / "push-again")
    served.copy_tree(second, str(model / "Format-Serving"))
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("blessed", 1)
    blessing.set_string_custom_property(INPUT_FINGERPRINT_KEY, "data-1")
    PusherExecutor().Do({"model": [_model(model)], "model_blessing": [blessing]}, {"pushed_model": [push]},
                        {standard_component_specs.PUSH_DESTINATION_KEY: destination})
    assert push.get_int_custom_property("pushed") == 0 and len(served.served_versions(serving)) == 3



def _versions(tmp_path, numbers):
    serving = tmp_path / "serving"
    for number in numbers:
        (serving / str(number) / "variables").mkdir(parents=True)
        (serving / str(number) / served.SAVED_MODEL_FILE).write_bytes(b"model")
    return serving


def test_the_pusher_keeps_the_newest_versions_and_deletes_the_rest_out_of_view_first(tmp_path):
    serving = _versions(tmp_path, (100, 200, 300, 400))
    (serving / "500").mkdir()  # a push under way: no SavedModel yet, and newer: left alone
    assert served.prune_versions(str(serving), 2) == ["100", "200"]
    assert sorted(os.listdir(serving)) == ["300", "400", "500"]
    assert served.prune_versions(str(serving), 0) == [] and served.prune_versions(str(tmp_path / "none"), 2) == []


def test_a_killed_deletion_of_versions_leaves_nothing_taken_for_a_model_and_is_finished_next_time(tmp_path):
    serving = _versions(tmp_path, (100, 200, 300, 400))
    # Killed after the rename (local) or after saved_model.pb went (a bucket): neither is a complete version.
    os.rename(serving / "100", serving / (served.DELETING_PREFIX + "100"))
    (serving / "200" / served.DELETING_MARKER).write_text("")
    os.remove(serving / "200" / served.SAVED_MODEL_FILE)
    # An older push still under way (a concurrent run's): no SavedModel yet, no marker.
    os.remove(serving / "300" / served.SAVED_MODEL_FILE)
    assert served.served_versions(str(serving)) == ["400"]
    assert served.prune_versions(str(serving), 2) == []
    assert sorted(os.listdir(serving)) == ["300", "400"]


def test_the_pusher_prunes_by_its_custom_config(tmp_path):
    serving = _versions(tmp_path, (100, 200, 300))
    # The Pusher reads keep_versions from its custom_config, as create_pipeline compiles it.
    PusherExecutor._prune(str(serving), {  # pylint: disable=protected-access
        standard_component_specs.CUSTOM_CONFIG_KEY: '{"keep_versions": 2}'})
    assert sorted(os.listdir(serving)) == ["200", "300"]
    PusherExecutor._prune(str(serving), {})  # pylint: disable=protected-access
    assert sorted(os.listdir(serving)) == ["200", "300"]

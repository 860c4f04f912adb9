"""Executors: artifact plumbing around ``served``."""

import os
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import base_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import json_utils, path_utils, proto_utils

from tfx.components.example_gen import utils as example_gen_utils

from components.served_model import (
    CANDIDATE_KEY, INPUT_FINGERPRINT_KEY, KEEP_VERSIONS_KEY, MODEL_KEY, SERVED_VERSION_KEY, SERVING_MODEL_DIR_KEY,
    served)


def candidate_dir(input_dict: Dict[str, List[types.Artifact]]):
    """The SavedModel folder of the optional candidate input, or None."""
    candidates = input_dict.get(CANDIDATE_KEY) or []
    return path_utils.serving_model_path(candidates[0].uri) if candidates else None


class Executor(base_executor.BaseExecutor):
    """Copies a served model into the output ``Model``: the version ``served_version`` names (the driver
    or the input probe chose it for the cache key), unless it is gone or a copy of the candidate;
    then the newest other than the candidate."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        serving_model_dir = exec_properties[SERVING_MODEL_DIR_KEY]
        version, candidate = exec_properties.get(SERVED_VERSION_KEY), candidate_dir(input_dict)
        gone = bool(version) and version not in served.served_versions(serving_model_dir)
        the_candidate = bool(version) and candidate is not None and served.is_served(serving_model_dir, version, candidate)
        if version is None or gone or the_candidate:
            version = served.latest_served_version(serving_model_dir, other_than=candidate)
        model = artifact_utils.get_single_instance(output_dict[MODEL_KEY])
        model.set_string_custom_property(SERVED_VERSION_KEY, version)
        if not version:
            logging.info("No model is served under %s yet: no baseline, no warm start.", serving_model_dir)
            return
        source = os.path.join(serving_model_dir, version)
        served.copy_tree(source, path_utils.serving_model_path(model.uri))
        logging.info("Served model %s copied to %s", source, model.uri)


def has_served_model(model: types.Artifact) -> bool:
    """Whether a ServedModel output holds a model (False when nothing was served)."""
    return bool(model.get_string_custom_property(SERVED_VERSION_KEY))


class EvaluatorExecutor(evaluator_executor.Executor):
    """TFX's Evaluator, without a baseline when the ServedModel step found nothing served.

    TFMA then ignores the change threshold (``rubber_stamp``) and only the value threshold
    applies, as for TFX's resolver on a first run.
    """

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        key = standard_component_specs.BASELINE_MODEL_KEY
        input_dict = dict(input_dict)
        input_dict[key] = [model for model in input_dict.get(key) or [] if has_served_model(model)]
        if not input_dict[key]:
            del input_dict[key]
        super().Do(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
        blessing.set_string_custom_property(
            INPUT_FINGERPRINT_KEY, examples.get_string_custom_property(example_gen_utils.FINGERPRINT_PROPERTY_NAME))


class PusherExecutor(pusher_executor.Executor):
    """TFX's Pusher, which does not push a model that is already the served one.

    A re-run whose Evaluator ran again (its baseline changed because this very model was
    pushed meanwhile) blesses the same model once more; pushing it again would only add a
    duplicate version. Nor does it push a model of data the served model was trained on (a
    re-run that missed the cache). A pushed version records the input fingerprint the blessing
    carries (``served.record_training_data``). Then only the newest ``keep_versions`` versions
    (its ``custom_config``) are kept (``served.prune_versions``).
    """

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        serving_model_dir = destination.filesystem.base_directory
        self._push(serving_model_dir, input_dict, output_dict, exec_properties)
        self._prune(serving_model_dir, exec_properties)

    def _push(self, serving_model_dir: str, input_dict: Dict[str, List[types.Artifact]],
              output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        newest = served.latest_served_version(serving_model_dir) if serving_model_dir else ""
        model_dir = self.GetModelPath(input_dict)
        fingerprint = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.MODEL_BLESSING_KEY]).get_string_custom_property(INPUT_FINGERPRINT_KEY)
        pushed = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if newest and served.is_served(serving_model_dir, newest, model_dir):
            logging.info("%s is already served as version %s: not pushed again.", model_dir, newest)
            self._MarkNotPushed(pushed)
            return
        if newest and fingerprint and served.trained_on(os.path.join(serving_model_dir, newest)) == fingerprint:
            # A re-run over the data the served model was trained on, which missed the cache: its baseline was
            # the version before, so its blessing says nothing against the one served.
            logging.info("Version %s was trained on this very data: %s not pushed.", newest, model_dir)
            self._MarkNotPushed(pushed)
            return
        super().Do(input_dict, output_dict, exec_properties)
        # pylint: disable-next=protected-access
        if pushed.get_int_custom_property(pusher_executor._PUSHED_KEY) and fingerprint:
            served.record_training_data(
                pushed.get_string_custom_property(pusher_executor._PUSHED_DESTINATION_KEY),  # pylint: disable=protected-access
                fingerprint)

    @staticmethod
    def _prune(serving_model_dir: str, exec_properties: Dict[str, Any]) -> None:
        """Keeps the newest ``keep_versions`` versions (custom_config), once a push is complete."""
        keep = (json_utils.loads(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "null") or {}
                ).get(KEEP_VERSIONS_KEY, 0)
        if not serving_model_dir or not keep:
            return
        try:
            deleted = served.prune_versions(serving_model_dir, keep)
        except Exception as err:  # pylint: disable=broad-except
            # The push stands; the next Pusher prunes again.
            logging.warning("Could not delete the served versions beyond the newest %d: %s", keep, err)
            return
        if deleted:
            logging.info("Deleted served versions %s: the newest %d are kept.", ", ".join(deleted), keep)

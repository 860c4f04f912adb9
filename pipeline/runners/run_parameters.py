"""The parameters of a run of a compiled pipeline, checked against the package before the request leaves.

A compiled pipeline has two parameters (``kubeflow_runner.build_pipeline``): the data root, and
the Trainer's settings as JSON. Everything else the settings decide was compiled in: the Transform
graph's (vocabulary, n-grams, standardization, ...), and whether the Word2Vec step starts the table.
So a run's ``hparams`` is read as changes to the package's own value, and a change to a compiled-in
setting is refused here: the Trainer would train on ids that the Transform graph does not make.

Free of TensorFlow and TFX, as ``submit`` and ``schedule`` load neither.
"""

import json
from typing import Any, Dict, Mapping

import yaml

from components.model.hparams import COMPILED_KEYS, EMBEDDING_INIT_WORD2VEC, HParams
from components.setting import SettingError

# The pipeline parameters, set when a run is submitted.
DATA_ROOT_PARAMETER = "data_root"
HPARAMS_PARAMETER = "hparams"


class ParameterError(ValueError):
    """A run parameter the package cannot take; the message names it and the fix."""


def pipeline_spec(package: str) -> Dict[str, Any]:
    """The PipelineSpec of a compiled package: its first YAML document (a PlatformSpec may follow)."""
    with open(package, encoding="utf-8") as f:
        return next(yaml.safe_load_all(f), None) or {}


def compiled_parameters(package: str) -> Dict[str, Any]:
    """The root parameters of a compiled PipelineSpec and their compiled-in defaults (None where none)."""
    spec = pipeline_spec(package)
    declared = ((spec.get("root") or {}).get("inputDefinitions") or {}).get("parameters") or {}
    return {name: definition.get("defaultValue") for name, definition in declared.items()}


def fixed_keys(compiled: HParams) -> tuple:
    """The settings a pipeline compiled with ``compiled`` fixes: Transform's, and the Word2Vec wiring."""
    # The Word2Vec table's width is the embedding's when the table starts from it.
    return COMPILED_KEYS + (("embedding_dim",) if compiled.embedding_init == EMBEDDING_INIT_WORD2VEC else ())


def merged_hparams(compiled_json: str, given_json: str) -> str:
    """The Trainer's settings for a run: the package's, with the given JSON object's keys changed.

    Raises:
      ParameterError: If the given value is not a JSON object, names an unknown setting, sets an
        invalid value, or changes a setting compiled into the pipeline.
    """
    try:
        given = json.loads(given_json)
    except json.JSONDecodeError as err:
        raise ParameterError(f"--param {HPARAMS_PARAMETER}: not JSON ({err}). Fix: pass a JSON object of the settings "
                             f"to change, e.g. --param '{HPARAMS_PARAMETER}={{\"epochs\": 5}}'.") from err
    if not isinstance(given, dict):
        raise ParameterError(f"--param {HPARAMS_PARAMETER}: {given_json!r} is not a JSON object. Fix: pass the "
                             f"settings to change as one, e.g. --param '{HPARAMS_PARAMETER}={{\"epochs\": 5}}'.")
    compiled = HParams.from_dict(json.loads(compiled_json))
    known = compiled.to_dict()
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ParameterError(f"--param {HPARAMS_PARAMETER}: unknown setting(s) {unknown}. Fix: use the settings of "
                             f"`python pipeline.py run --help`, with underscores: {sorted(known)}.")
    changed = sorted(key for key in fixed_keys(compiled) if key in given and given[key] != known[key])
    if changed:
        shown = ", ".join(f"{key} {known[key]!r} -> {given[key]!r}" for key in changed)
        flags = " ".join(f"--{key.replace('_', '-')} ..." for key in changed)
        raise ParameterError(
            f"--param {HPARAMS_PARAMETER}: {shown}: compiled into the pipeline (the Transform graph and the steps "
            f"wired), which a run's parameters do not change; the Trainer would read ids the graph does not make. "
            f"Fix: compile again with {flags} and submit that package.")
    try:
        merged = HParams.from_dict({**known, **given})
    except SettingError as err:
        raise ParameterError(f"--param {HPARAMS_PARAMETER}: {err}. Fix: pass a valid {err.field}.") from err
    return json.dumps(merged.to_dict(), sort_keys=True)


def run_parameters(package: str, given: Mapping[str, str]) -> Dict[str, str]:
    """The parameters to send with a run of ``package``: the given ones, checked, ``hparams`` merged.

    Raises:
      ParameterError: If a name is not a parameter of the package, or ``hparams`` cannot be taken.
    """
    compiled = compiled_parameters(package)
    unknown = sorted(set(given) - set(compiled))
    if unknown:
        raise ParameterError(f"--param {', '.join(unknown)}: the pipeline in {package} has no such parameter; it has "
                             f"{sorted(compiled)}. Fix: pass one of those, e.g. "
                             f"--param {DATA_ROOT_PARAMETER}=gs://BUCKET/aclImdb.")
    parameters = dict(given)
    if HPARAMS_PARAMETER in parameters and compiled.get(HPARAMS_PARAMETER):
        parameters[HPARAMS_PARAMETER] = merged_hparams(compiled[HPARAMS_PARAMETER], parameters[HPARAMS_PARAMETER])
    return parameters

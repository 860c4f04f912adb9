"""One iteration of scheduled retraining on this machine, for cron or a systemd timer (see deploy/).

A thin runner beside ``local_runner``: the same pipeline over a data root of spans
(``DATA/span-N/``), trained on the window of the newest spans, warm-started from the
latest blessed model, and pushed only if the Evaluator blesses it. An iteration with
no span newer than the last one judged, and no file of the window changed, does
nothing, and answers from ML Metadata and a listing of the window without loading
TFX or TensorFlow (importing TFX alone takes 9 to 18 s).
"""

import dataclasses
import glob
import os
from typing import TYPE_CHECKING, List, Optional, Union

from components.example_gen import (
    EXCLUDE_MARKER, SPAN_FOLDER_PREFIX, SPAN_PATTERN_PREFIX, SPAN_SPEC, TEST_FOLDER_PATTERN, TRAIN_FOLDER_PATTERN,
    UNSUP_FOLDER_PATTERN, listing)
from pipeline import data, layout
from pipeline.definition import nodes
from pipeline.definition.settings import RunSettings
from pipeline.records import metadata, retention, status
from pipeline.records.status import SETTINGS_DIGEST

if TYPE_CHECKING:
    from pipeline.records.results import RunReport

# The custom property of the Examples artifact that holds its span: TFX's
# tfx.components.example_gen.utils.SPAN_PROPERTY_NAME, spelled out so that this module needs no TFX
# (tests/test_retraining.py holds the two equal).
SPAN_PROPERTY = "span"


@dataclasses.dataclass(frozen=True)
class NoNewSpan:
    """Nothing to do: the newest span, and the files of the window, are those an earlier iteration judged."""

    span: int

    def describe(self) -> str:
        return f"no new span since span {self.span}, and no file of the window changed: nothing trained, nothing pushed"


@dataclasses.dataclass(frozen=True)
class Judged:
    """What the latest iteration that reached a verdict read: its newest span and the fingerprint of its window's
    files."""

    span: int
    input_fingerprint: str


# The Examples artifact's custom property (TFX's name) with the fingerprint of the files the ExampleGen read; it is
# the artifact's, so a cached ExampleGen execution has it too.
INPUT_FINGERPRINT_PROPERTY = "input_fingerprint"


def last_judged(metadata_path: str, pipeline_name: str) -> Optional[Judged]:
    """The latest run's span and window fingerprint, if that run went as far as the Evaluator's verdict and the
    Pusher."""
    if not os.path.exists(metadata_path):
        return None
    store = metadata.open_store(metadata_path)
    run_id = metadata.latest_run_id(store, pipeline_name)
    if run_id is None:
        return None
    components = {c.node_id: c for c in metadata.component_runs(store, pipeline_name, run_id)}
    example_gen = components.get(nodes.EXAMPLE_GEN)
    if not example_gen or not example_gen.outputs.get(nodes.EXAMPLES_OUTPUT) or any(
            node not in components or components[node].state not in nodes.FINISHED_STATES
            for node in (nodes.EVALUATOR, nodes.PUSHER)):
        return None
    examples = example_gen.outputs[nodes.EXAMPLES_OUTPUT][0]
    # TFX's ExampleGen driver records the span as a custom property of the Examples artifact.
    span = next((values[SPAN_PROPERTY].int_value for values in (examples.custom_properties, examples.properties)
                 if SPAN_PROPERTY in values), None)
    fingerprint = examples.custom_properties[INPUT_FINGERPRINT_PROPERTY].string_value \
        if INPUT_FINGERPRINT_PROPERTY in examples.custom_properties else ""
    return Judged(span, fingerprint) if span is not None and fingerprint else None


def window_patterns_now(data_dir: str, spans: List[int], word2vec: bool) -> List[str]:
    """The ExampleGen's input patterns as the pipeline would build them now (``factory.create_pipeline``:
    ``test/`` when the newest span has it, ``train/unsup/`` with Word2Vec when a span has it), for a local folder."""
    patterns = [TRAIN_FOLDER_PATTERN]
    newest = os.path.join(data_dir, f"{SPAN_FOLDER_PREFIX}{spans[-1]}")
    if all(os.path.isdir(os.path.join(newest, "test", label)) for label in ("pos", "neg")):
        patterns.append(TEST_FOLDER_PATTERN)
    if word2vec and any(glob.glob(os.path.join(data_dir, f"{SPAN_FOLDER_PREFIX}{span}", UNSUP_FOLDER_PATTERN))
                        for span in spans):
        patterns.append(UNSUP_FOLDER_PATTERN)
    return [SPAN_PATTERN_PREFIX + pattern for pattern in patterns]


def window_fingerprint(data_dir: str, spans: List[int], window: int, word2vec: bool = False) -> str:
    """The fingerprint the ExampleGen would record now for the window of the newest ``window`` spans, as
    ``resolve_input`` makes it (``components/example_gen/executor.py``): equal to the judged one exactly when
    the window holds the same spans, read by the same patterns, with the same files."""
    return listing.DataRootListing(data_dir).fingerprint(listing.window_patterns(
        window_patterns_now(data_dir, spans, word2vec), SPAN_SPEC, spans[-window:]))


def nothing_new(run: RunSettings, spans: List[int], judged: Optional[Judged], last_status: Optional[dict]) -> bool:
    """Whether the last judged run read this very window with these very settings: same newest span, same files
    (``window_fingerprint``), same settings (the digest ``status.json`` carries), and the cache in use."""
    return (run.enable_cache and judged is not None and spans[-1] == judged.span
            and last_status is not None and last_status.get(SETTINGS_DIGEST) == run.settings_digest()
            and window_fingerprint(run.data_dir, spans, run.settings.window, run.word2vec.word2vec)
            == judged.input_fingerprint)


def retrain(run: RunSettings) -> Union["RunReport", NoNewSpan]:
    """Runs one iteration, unless the newest span, and every file of the window, are those the last iteration
    judged: a span the operator excluded (``EXCLUDE``) is not in the window; files replaced in a span change
    its fingerprint, and the window is read again.

    Raises:
      DataError: If the data root holds no ``span-N/`` folder, or only excluded ones.
      OutputFolderBusyError: At once, if another run or iteration holds the output folder.
    """
    spans = data.list_spans(run.data_dir)
    if not spans:
        excluded = data.excluded_spans(run.data_dir)
        if excluded:
            raise data.DataError(
                f"every span of {run.data_dir} is excluded (an {EXCLUDE_MARKER} file in span "
                f"{', '.join(map(str, excluded))}). Fix: delete the {EXCLUDE_MARKER} file of a span that may be "
                f"trained on, or add a new span-N/ folder.")
        raise data.DataError(
            f"{run.data_dir} holds no span folder (span-1/, span-2/, ... each an aclImdb folder with train/). "
            f"Fix: put each new batch of reviews in a new span-N/ folder, or use `run` for a plain aclImdb folder.")
    output_dir = layout.check_output_dir(run.output_dir)
    with layout.output_lock(output_dir):
        paths = layout.output_paths(output_dir)
        judged = last_judged(paths.metadata, run.pipeline_name)
        if nothing_new(run, spans, judged, status.read(output_dir)):
            # Also where a killed deletion waits, or --keep-runs was lowered: TFX-free as well.
            retention.prune_runs(paths.metadata, paths.pipeline_root, run.pipeline_name, run.retention.keep_runs)
            served = layout.latest_serving_model(paths.serving_model)
            status.write(output_dir, "retrain", status.NOTHING_NEW, span=judged.span,
                         served_version=os.path.basename(served) if served else None,
                         excluded_spans=data.excluded_spans(run.data_dir),
                         **{SETTINGS_DIGEST: run.settings_digest()})
            return NoNewSpan(judged.span)
        # Only now: TFX is the floor of a run, and no part of the answer above.
        from pipeline.runners import local_runner  # pylint: disable=import-outside-toplevel
        return local_runner.run_locked(dataclasses.replace(run, warm_start=True), output_dir, command="retrain")

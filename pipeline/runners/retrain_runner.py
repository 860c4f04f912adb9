"""One iteration of scheduled retraining on this machine, for cron or a systemd timer (see deploy/).

A thin runner beside ``local_runner``: the same pipeline over a data root of spans
(``DATA/span-N/``), trained on the window of the newest spans, warm-started from the
latest blessed model, and pushed only if the Evaluator blesses it. An iteration with
no span newer than the last one judged does nothing, and answers from ML Metadata
without loading TFX or TensorFlow (importing TFX alone takes 9 to 18 s).
"""

import dataclasses
import os
from typing import TYPE_CHECKING, Optional, Union

from pipeline import data, layout
from pipeline.definition import nodes
from pipeline.definition.settings import RunSettings
from pipeline.records import metadata

if TYPE_CHECKING:
    from pipeline.records.results import RunReport

# The custom property of the Examples artifact that holds its span: TFX's
# tfx.components.example_gen.utils.SPAN_PROPERTY_NAME, spelled out so that this module needs no TFX
# (tests/test_retraining.py holds the two equal).
SPAN_PROPERTY = "span"


@dataclasses.dataclass(frozen=True)
class NoNewSpan:
    """Nothing to do: the newest span was judged by an earlier iteration."""

    span: int

    def describe(self) -> str:
        return f"no new span since span {self.span}: nothing trained, nothing pushed"


def last_judged_span(metadata_path: str, pipeline_name: str) -> Optional[int]:
    """The span the latest run ingested, if that run went as far as the Evaluator's verdict and the Pusher."""
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
    for values in (examples.custom_properties, examples.properties):
        if SPAN_PROPERTY in values:
            return values[SPAN_PROPERTY].int_value
    return None


def retrain(run: RunSettings) -> Union["RunReport", NoNewSpan]:
    """Runs one iteration: ingests the newest span unless the last iteration judged it already.

    Raises:
      DataError: If the data root holds no ``span-N/`` folder.
      OutputFolderBusyError: At once, if another run or iteration holds the output folder.
    """
    spans = data.list_spans(run.data_dir)
    if not spans:
        raise data.DataError(
            f"{run.data_dir} holds no span folder (span-1/, span-2/, ... each an aclImdb folder with train/). "
            f"Fix: put each new batch of reviews in a new span-N/ folder, or use `run` for a plain aclImdb folder.")
    output_dir = layout.check_output_dir(run.output_dir)
    with layout.output_lock(output_dir):
        judged = last_judged_span(layout.output_paths(output_dir).metadata, run.pipeline_name)
        if judged is not None and spans[-1] <= judged:
            return NoNewSpan(judged)
        # Only now: TFX is the floor of a run, and no part of the answer above.
        from pipeline.runners import local_runner  # pylint: disable=import-outside-toplevel
        return local_runner.run_locked(dataclasses.replace(run, warm_start=True), output_dir)

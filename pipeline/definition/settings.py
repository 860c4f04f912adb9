"""Settings of a pipeline run, each declared once: its default, its check and its help text.

``HParams`` (components/model/hparams.py) declares the model and text-pipeline
settings; ``PipelineSettings`` here declares the data and gate settings;
``Word2VecSettings`` (components/word2vec/__init__.py) those of the Word2Vec step. The command
line builds its options from these declarations (``pipeline/cli/options.py``), and
every runner hands the same objects to ``create_pipeline``. Free of TensorFlow
imports, so that ``--help`` and option errors answer quickly.
"""

import dataclasses
import hashlib
import json
from typing import Sequence, Tuple

from components.example_gen import DEFAULT_EVAL_PERCENT, check_eval_percent, check_window
from components.model.hparams import HParams
from components.setting import SettingError, setting
from components.validation import check_label_balance_bound
from components.projector import DEFAULT_PROBE_WORDS
from components.word2vec import Word2VecSettings

# The pipeline's name in ML Metadata and on Kubeflow.
PIPELINE_NAME = "imdb-word-embeddings"


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    """Data split, validation and blessing settings of the pipeline."""

    eval_percent: int = setting(DEFAULT_EVAL_PERCENT, "share of train/ held out as the eval split, in percent")
    accuracy_floor: float = setting(0.75, "accuracy a model needs to be blessed and pushed")
    max_accuracy_drop: float = setting(
        0.01, "how far below the latest blessed model's accuracy a new one may be and still be blessed")
    label_balance_bound: float = setting(
        0.1, "each split's share of positive reviews must be 0.5 +/- this, or the run stops before training")
    probe_words: Tuple[str, ...] = setting(
        DEFAULT_PROBE_WORDS, "comma-separated words whose nearest neighbours are reported")
    window: int = setting(
        3, "over a data folder of spans (span-N/), how many of the newest spans Transform and Trainer work on")
    keep_versions: int = setting(
        3, "served versions the Pusher keeps: the newest (served) and those before it, for rollback; older ones "
        "are deleted after each push; at least 2 (a re-run over the newest version's data warm-starts from the one "
        "before it), 0 keeps every version")

    def __post_init__(self):
        for name, check in (("eval_percent", check_eval_percent), ("window", check_window),
                            ("label_balance_bound", check_label_balance_bound)):
            try:
                check(getattr(self, name))
            except ValueError as err:
                raise SettingError(name, str(err)) from None
        if isinstance(self.keep_versions, bool) or not isinstance(self.keep_versions, int) or \
                self.keep_versions < 0 or self.keep_versions == 1:
            raise SettingError("keep_versions", f"keep_versions must be 0 (keep every version) or at least 2, got "
                                                f"{self.keep_versions!r}")
        for name in ("accuracy_floor", "max_accuracy_drop"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise SettingError(name, f"{name} must be between 0 and 1, got {value!r}")
        if not self.probe_words or not all(isinstance(w, str) and w for w in self.probe_words):
            raise SettingError("probe_words", f"probe_words must be one or more words, got {self.probe_words!r}")
        object.__setattr__(self, "probe_words", tuple(self.probe_words))


# Beam runners that cannot run the Beam components, with what fails. Beam
# 2.74's DaskRunner computes only the bag of the pipeline's last transform (other branches,
# e.g. the train and eval writes, never run) and recomputes a side input for each consumer,
# so a file write finalizes a temporary folder no shard was written to: the output is empty
# and the step reports success.
UNSUPPORTED_BEAM_RUNNERS = {
    "DaskRunner": "Beam's DaskRunner runs only the last branch of a pipeline and finalizes file writes "
                  "from an empty temporary folder, so ExampleGen 'succeeds' with empty splits",
}


def check_beam_args(beam_args: Sequence[str]) -> Tuple[str, ...]:
    """The Beam arguments, unless they choose a runner known to lose the components' output.

    Raises:
      SettingError: for ``beam_arg``, naming the runner, what fails and what to use instead.
    """
    for index, arg in enumerate(beam_args):
        if arg == "--runner" and index + 1 < len(beam_args):
            runner = beam_args[index + 1]
        elif arg.startswith("--runner="):
            runner = arg.partition("=")[2]
        else:
            continue
        for name, problem in UNSUPPORTED_BEAM_RUNNERS.items():
            if runner.rsplit(".", 1)[-1] == name:
                raise SettingError(
                    "beam_arg",
                    f"{runner} cannot run this pipeline: {problem}. Use the DirectRunner here (the default, "
                    "or --beam-arg=--direct_running_mode=multi_processing), or Dataflow, Flink or Spark through "
                    "`compile` and Kubeflow Pipelines")
    return tuple(beam_args)


@dataclasses.dataclass(frozen=True)
class RetentionSettings:
    """What a local run keeps of earlier runs (`run`, `retrain`; on Kubeflow the cluster's artifacts are its own)."""

    keep_runs: int = setting(
        3, "runs whose artifacts stay under OUTPUT/tfx: the newest ones, with every artifact they used or made "
        "(cached ones too); older artifacts are deleted after each run and marked DELETED in ML Metadata; "
        "0 keeps everything")

    def __post_init__(self):
        if isinstance(self.keep_runs, bool) or not isinstance(self.keep_runs, int) or self.keep_runs < 0:
            raise SettingError("keep_runs", f"keep_runs must be 0 (keep every run) or more, got {self.keep_runs!r}")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a local run needs besides the declared settings: where to read and write, and runner options."""

    data_dir: str
    output_dir: str
    hparams: HParams
    settings: PipelineSettings = PipelineSettings()
    enable_cache: bool = True
    beam_pipeline_args: Tuple[str, ...] = ()
    pipeline_name: str = PIPELINE_NAME
    warm_start: bool = False  # the Trainer starts from the latest blessed model
    word2vec: Word2VecSettings = Word2VecSettings()
    retention: RetentionSettings = RetentionSettings()

    def settings_digest(self) -> str:
        """A digest of every setting that shapes the pipeline's results (not where it reads and writes, nor
        the cache or retention): equal digests, equal pipelines over equal data."""
        shaping = {"hparams": dataclasses.asdict(self.hparams), "settings": dataclasses.asdict(self.settings),
                   "word2vec": dataclasses.asdict(self.word2vec), "beam_pipeline_args": list(self.beam_pipeline_args)}
        return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:16]

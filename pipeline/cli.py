"""Command line of the pipeline (``python pipeline.py COMMAND``)."""

import os

# tf.Transform's TransformFeaturesLayer is Keras 2: make `tf.keras` mean tf-keras,
# before anything imports TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from typing import List, Optional  # noqa: E402

from components.model.hparams import DEFAULT_PRESET, PRESETS, HParams, HParamsError  # noqa: E402
from components.projector.projector import DEFAULT_PROBE_WORDS  # noqa: E402

# Options that override a preset's value, with their help texts.
_HPARAM_OPTIONS = {
    "vocab_size": (int, "rows of the embedding table: padding, OOV rows and the most frequent tokens"),
    "sequence_length": (int, "tokens kept per review (longer ones are truncated, shorter ones padded)"),
    "num_oov_buckets": (int, "embedding rows shared by out-of-vocabulary tokens"),
    "embedding_dim": (int, "width of each token's embedding"),
    "hidden_units": (int, "units of the hidden Dense layer"),
    "epochs": (int, "passes over the train split"),
    "batch_size": (int, "examples per training step"),
    "learning_rate": (float, "Adam's learning rate"),
    "seed": (int, "seed of initialisation and shuffling"),
}


class UsageError(Exception):
    """A bad option value; the message names it and the fix."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline.py",
        description="Learn word embeddings from IMDB reviews with TFX and publish them for the Embedding Projector.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the pipeline locally (LocalDagRunner, Beam DirectRunner)",
        description="Run the whole pipeline on this machine and leave the projector files and the "
        "serving model under the output folder.",
    )
    run.add_argument(
        "--data-dir",
        help="aclImdb folder (holding train/ and optionally test/); default: $ACLIMDB_DIR, "
        "else the official archive, downloaded once into the cache folder",
    )
    run.add_argument("--output-dir", default="output", help="where artifacts, ML Metadata and results go (default: %(default)s)")
    run.add_argument("--cache-dir", help="download cache (default: $IMDB_EMBEDDINGS_CACHE or ~/.cache/imdb-embeddings)")
    run.add_argument(
        "--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET,
        help="named settings; 'tutorial' is exactly the seed tutorial's (default: %(default)s)",
    )
    for name, (kind, text) in _HPARAM_OPTIONS.items():
        run.add_argument("--" + name.replace("_", "-"), type=kind, help=f"{text} (default: the preset's)")
    run.add_argument("--eval-percent", type=int, default=20, help="share of train/ held out for eval (default: %(default)s)")
    run.add_argument(
        "--probe-words", default=",".join(DEFAULT_PROBE_WORDS),
        help="comma-separated words whose nearest neighbours are reported (default: %(default)s)",
    )
    run.add_argument("--no-cache", action="store_true", help="re-run every component instead of reusing earlier results")
    run.add_argument(
        "--beam-arg", action="append", default=[], metavar="ARG",
        help="extra Beam pipeline argument, e.g. --beam-arg=--direct_num_workers=2 (repeatable)",
    )
    return parser


def hparams_from_args(args: argparse.Namespace) -> HParams:
    """The preset's settings with every given option applied."""
    values = PRESETS[args.preset].to_dict()
    for name in _HPARAM_OPTIONS:
        given = getattr(args, name)
        if given is not None:
            values[name] = given
    try:
        return HParams.from_dict(values)
    except HParamsError as err:
        raise UsageError(f"invalid --{err.field.replace('_', '-')}: {err}.") from err


def _command_run(args: argparse.Namespace) -> int:
    # Imported here so that `--help` answers without loading TensorFlow.
    from pipeline import data, local_runner, report

    hparams = hparams_from_args(args)
    if not 0 < args.eval_percent < 100:
        raise UsageError(f"--eval-percent must be between 1 and 99, got {args.eval_percent}")
    output_dir = local_runner.check_output_dir(args.output_dir)
    data_dir = data.resolve_data_dir(args.data_dir, args.cache_dir)
    print(f"Data: {data_dir}\nOutput: {output_dir}\nSettings: {hparams.to_dict()}", flush=True)
    result = local_runner.run_local(
        local_runner.RunSettings(
            data_dir=data_dir,
            output_dir=output_dir,
            hparams=hparams,
            eval_percent=args.eval_percent,
            probe_words=tuple(word.strip() for word in args.probe_words.split(",") if word.strip()),
            enable_cache=not args.no_cache,
            beam_pipeline_args=tuple(args.beam_arg),
        )
    )
    print(report.format_run_report(result), flush=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Parses ``argv`` and runs the command; returns the exit code."""
    args = _parser().parse_args(argv)
    from pipeline.data import DataError

    try:
        return {"run": _command_run}[args.command](args)
    except (UsageError, DataError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished components are cached; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as err:  # pylint: disable=broad-except
        if args.debug:
            raise
        print(f"error: the pipeline failed: {type(err).__name__}: {err}\n"
              "Earlier results in the output folder are untouched; re-run with --debug for the traceback.",
              file=sys.stderr)
        return 1

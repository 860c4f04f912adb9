"""Command line of the pipeline (``python pipeline.py COMMAND``)."""

import os

# tf.Transform's TransformFeaturesLayer is Keras 2: make `tf.keras` mean tf-keras,
# before anything imports TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from typing import List, Optional  # noqa: E402

from components.model.hparams import DEFAULT_PRESET, PRESETS, HParams, HParamsError  # noqa: E402
from components.projector import DEFAULT_PROBE_WORDS  # noqa: E402
from pipeline import defaults  # noqa: E402

# Options that override a preset's value, with their help texts.
_HPARAM_OPTIONS = {
    "vocab_size": (int, "rows of the embedding table: padding, OOV rows and the most frequent tokens"),
    "sequence_length": (int, "tokens kept per review (longer ones are truncated, shorter ones padded)"),
    "num_oov_buckets": (int, "embedding rows shared by out-of-vocabulary tokens"),
    "ngram_size": (int, "1: words; 2: words and their bigrams as tokens"),
    "mask_padding": (argparse.BooleanOptionalAction, "average over the review's tokens only, not its padding"),
    "embedding_dim": (int, "width of each token's embedding"),
    "hidden_units": (int, "units of the hidden Dense layer; 0 for none"),
    "dropout": (float, "dropout rate on the averaged embedding"),
    "epochs": (int, "most passes over the train split"),
    "batch_size": (int, "examples per training step"),
    "learning_rate": (float, "Adam's (initial) learning rate"),
    "learning_rate_schedule": (str, "'constant' or 'cosine' decay over the epochs"),
    "early_stopping_patience": (int, "epochs without a better eval accuracy before stopping; 0: never"),
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
    # `--debug` is accepted after the command as well; SUPPRESS keeps a subcommand's
    # default from overwriting a `--debug` given before it.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors")

    run = commands.add_parser(
        "run", parents=[debug],
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
        help="named settings: 'tutorial' is exactly the seed tutorial's; 'fasttext' averages word and "
        "bigram embeddings with masking, dropout, a cosine schedule and early stopping (default: %(default)s)",
    )
    for name, (kind, text) in _HPARAM_OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        if kind is argparse.BooleanOptionalAction:
            run.add_argument(flag, action=kind, default=None, help=f"{text} (default: the preset's)")
        else:
            run.add_argument(flag, type=kind, help=f"{text} (default: the preset's)")
    run.add_argument("--eval-percent", type=int, default=defaults.DEFAULT_EVAL_PERCENT,
                     help="share of train/ held out for eval (default: %(default)s)")
    run.add_argument("--accuracy-floor", type=float, default=defaults.DEFAULT_ACCURACY_FLOOR,
                     help="accuracy a model needs to be blessed and pushed (default: %(default)s)")
    run.add_argument("--max-accuracy-drop", type=float, default=defaults.DEFAULT_MAX_ACCURACY_DROP,
                     help="how far below the latest blessed model's accuracy a new one may be (default: %(default)s)")
    run.add_argument("--label-balance-bound", type=float, default=defaults.DEFAULT_LABEL_BALANCE_BOUND,
                     help="each split's share of positive reviews must be 0.5 +/- this (default: %(default)s)")
    run.add_argument(
        "--probe-words", default=",".join(DEFAULT_PROBE_WORDS),
        help="comma-separated words whose nearest neighbours are reported (default: %(default)s)",
    )
    run.add_argument("--quiet", action="store_true", help="print only errors and the final summary")
    run.add_argument("--verbose", action="store_true", help="also print every log line of TFX, Beam and TensorFlow")
    run.add_argument("--no-cache", action="store_true", help="re-run every component instead of reusing earlier results")
    run.add_argument(
        "--beam-arg", action="append", default=[], metavar="ARG",
        help="extra Beam pipeline argument, e.g. --beam-arg=--direct_num_workers=2 (repeatable)",
    )

    predict = commands.add_parser(
        "predict", parents=[debug],
        help="score raw reviews with the served model",
        description="Print the probability that each review is positive. Reviews come from the "
        "arguments, from --file (one review per line), or else from standard input (one per line).",
    )
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="a review to score")
    predict.add_argument("--file", help="file of reviews, one per line ('-' for standard input)")
    _add_model_options(predict)

    evaluate = commands.add_parser(
        "evaluate", parents=[debug],
        help="measure a served model's accuracy on an aclImdb folder",
        description="Report accuracy, precision, recall and AUC of a served model on one split of an "
        "aclImdb-layout folder.",
    )
    evaluate.add_argument("--data-dir", required=True, help="aclImdb folder (holding train/ and/or test/)")
    evaluate.add_argument(
        "--split", choices=("test", "eval", "train"), default="test",
        help="test/, or the pipeline's eval or train part of train/ (default: %(default)s)",
    )
    evaluate.add_argument("--eval-percent", type=int, default=defaults.DEFAULT_EVAL_PERCENT,
                          help="as in `run` (default: %(default)s)")
    _add_model_options(evaluate)

    runs = commands.add_parser("runs", parents=[debug], help="list past runs: when, data, accuracy, pushed or not",
                               description="List the runs recorded in the output folder's ML Metadata.")
    runs.add_argument("--output-dir", default="output", help="output folder of `run` (default: %(default)s)")

    board = commands.add_parser(
        "tensorboard", parents=[debug], help="open TensorBoard on the latest run (training curves and the Projector)",
        description="Start TensorBoard on the latest run's training logs and projector files.",
    )
    board.add_argument("--output-dir", default="output", help="output folder of `run` (default: %(default)s)")
    board.add_argument("--port", type=int, default=6006, help="port to serve on (default: %(default)s)")
    board.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    return parser


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="SavedModel folder (default: the newest under OUTPUT/serving_model)")
    parser.add_argument("--output-dir", default="output", help="output folder of `run` (default: %(default)s)")


def _read_reviews(args: argparse.Namespace) -> List[str]:
    if args.texts:
        return list(args.texts)
    if args.file and args.file != "-":
        try:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError as err:
            raise UsageError(f"cannot read --file {args.file}: {err.strerror}") from err
    else:
        lines = sys.stdin.read().splitlines()
    reviews = [line for line in lines if line.strip()]
    if not reviews:
        raise UsageError("no review to score. Fix: pass reviews as arguments, with --file, or on standard input.")
    return reviews


def _command_predict(args: argparse.Namespace) -> int:
    from pipeline import serving

    reviews = _read_reviews(args)
    model_dir = serving.resolve_model_dir(args.model, args.output_dir)
    probabilities = serving.predict(model_dir, reviews)
    print(f"# model: {model_dir}", file=sys.stderr)
    for review, probability in zip(reviews, probabilities):
        sentiment = "positive" if probability >= 0.5 else "negative"
        snippet = review if len(review) <= 70 else review[:67] + "..."
        print(f"{probability:.4f}\t{sentiment}\t{snippet}")
    return 0


def _command_evaluate(args: argparse.Namespace) -> int:
    from pipeline import data, serving

    if not 0 < args.eval_percent < 100:
        raise UsageError(f"--eval-percent must be between 1 and 99, got {args.eval_percent}")
    model_dir = serving.resolve_model_dir(args.model, args.output_dir)
    data_dir = data.check_dataset_dir(args.data_dir) if args.split != "test" else os.path.abspath(args.data_dir)
    result = serving.evaluate(model_dir, serving.split_reviews(data_dir, args.split, args.eval_percent))
    print(f"model:     {model_dir}\ndata:      {data_dir} (split {args.split})")
    print(f"examples:  {result.examples:,}\naccuracy:  {result.accuracy:.4f}\nprecision: {result.precision:.4f}")
    print(f"recall:    {result.recall:.4f}\nAUC:       {result.auc:.4f}")
    return 0


def _command_runs(args: argparse.Namespace) -> int:
    from pipeline import history, local_runner

    output_dir = os.path.abspath(args.output_dir)
    metadata_path = local_runner.output_paths(output_dir)["metadata"]
    if not os.path.exists(metadata_path):
        raise UsageError(f"{output_dir} holds no runs ({metadata_path} is missing). Fix: pass the --output-dir of `run`.")
    print(history.format_runs(history.past_runs(metadata_path, local_runner.PIPELINE_NAME)))
    return 0


def _command_tensorboard(args: argparse.Namespace) -> int:
    import subprocess

    from pipeline import local_runner

    output_dir = os.path.abspath(args.output_dir)
    logdir = local_runner.output_paths(output_dir)["projector"]
    if not os.path.isdir(logdir):
        raise UsageError(f"{output_dir} holds no finished run ({logdir} is missing). "
                         f"Fix: run `python pipeline.py run --output-dir {args.output_dir}` first.")
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", logdir,
               "--host", args.host, "--port", str(args.port)]
    print(f"TensorBoard on http://{args.host}:{args.port}/ (Scalars: training curves; Projector: embedding). "
          "Ctrl-C to stop.", flush=True)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


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
        flag = "--" + err.field.replace("_", "-")
        raise UsageError(f"invalid {flag}: {err}. Fix: pass {flag} a valid value.") from err


def _command_run(args: argparse.Namespace) -> int:
    # Imported here so that `--help` answers without loading TensorFlow.
    from pipeline import data, local_runner, report

    hparams = hparams_from_args(args)
    if not 0 < args.eval_percent < 100:
        raise UsageError(f"--eval-percent must be between 1 and 99, got {args.eval_percent}")
    if not 0 <= args.accuracy_floor <= 1:
        raise UsageError(f"--accuracy-floor must be between 0 and 1, got {args.accuracy_floor}")
    if not 0 <= args.max_accuracy_drop <= 1:
        raise UsageError(f"--max-accuracy-drop must be between 0 and 1, got {args.max_accuracy_drop}")
    if not 0 < args.label_balance_bound < 0.5:
        raise UsageError(f"--label-balance-bound must be between 0 and 0.5, got {args.label_balance_bound}")
    output_dir = local_runner.check_output_dir(args.output_dir)
    data_dir = data.resolve_data_dir(args.data_dir, args.cache_dir)
    progress = logging.getLogger("imdb_embeddings")
    progress.info("Data: %s", data_dir)
    progress.info("Output: %s", output_dir)
    progress.info("Settings (preset %s): %s", args.preset, hparams.to_dict())
    result = local_runner.run_local(
        local_runner.RunSettings(
            data_dir=data_dir,
            output_dir=output_dir,
            hparams=hparams,
            eval_percent=args.eval_percent,
            accuracy_floor=args.accuracy_floor,
            max_accuracy_drop=args.max_accuracy_drop,
            label_balance_bound=args.label_balance_bound,
            probe_words=tuple(word.strip() for word in args.probe_words.split(",") if word.strip()),
            enable_cache=not args.no_cache,
            beam_pipeline_args=tuple(args.beam_arg),
        )
    )
    print(report.format_run_report(result), flush=True)
    return 0


def configure_output(quiet: bool = False, verbose: bool = False) -> None:
    """Progress lines on stderr; library logs only with ``verbose``, nothing but errors with ``quiet``.

    Must run before TensorFlow is imported for its C++ log level to apply.
    """
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "3"
    if not verbose:
        warnings.filterwarnings("ignore")
    # Configure the root logger first, so that libraries' basicConfig calls are no-ops.
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR,
                        format="%(levelname)s:%(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.INFO if verbose else logging.ERROR)
    if verbose:
        logging.getLogger("absl").setLevel(logging.INFO)
    progress = logging.getLogger("imdb_embeddings")
    progress.propagate = False
    progress.setLevel(logging.WARNING if quiet else logging.INFO)
    if not progress.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", datefmt="%H:%M:%S"))
        progress.addHandler(handler)


# Below this, a failure in the output folder is taken for a full disk: SQLite and some
# TensorFlow writers report one only as a failed commit or write.
_NEARLY_FULL_BYTES = 1 << 20


def _is_disk_full(err: BaseException, output_dir: Optional[str] = None) -> bool:
    """Whether an error, or one it was raised from, is a full disk (OS, TensorFlow or SQLite)."""
    import errno

    if output_dir and os.path.isdir(output_dir):
        stats = os.statvfs(output_dir)
        if stats.f_bavail * stats.f_frsize < _NEARLY_FULL_BYTES:
            return True
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(text in str(err) for text in ("No space left on device", "database or disk is full")):
            return True
        err = err.__cause__ or err.__context__
    return False


def main(argv: Optional[List[str]] = None) -> int:
    """Parses ``argv`` and runs the command; returns the exit code."""
    args = _parser().parse_args(argv)
    configure_output(quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", False))
    from components.validation.anomalies import DataValidationError
    from pipeline.data import DataError

    try:
        commands = {
            "run": _command_run, "predict": _command_predict, "evaluate": _command_evaluate,
            "runs": _command_runs, "tensorboard": _command_tensorboard,
        }
        return commands[args.command](args)
    except (UsageError, DataError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DataValidationError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted: finished components are cached; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as err:  # pylint: disable=broad-except
        if args.debug:
            raise
        if _is_disk_full(err, getattr(args, "output_dir", None)):
            print(f"error: the disk is full (No space left on device): {err}\nNothing was published: the "
                  "projector files and served models in the output folder are the last good ones. Fix: free "
                  "space, or pass another --output-dir, then run again; finished components are reused.",
                  file=sys.stderr)
            return 4
        print(f"error: the pipeline failed: {type(err).__name__}: {err}\n"
              "Earlier results in the output folder are untouched; re-run with --debug for the traceback.",
              file=sys.stderr)
        return 1

"""`predict`, `evaluate`, `runs` and `tensorboard`: commands that read what earlier runs left."""

import argparse
import os
import sys
from typing import List

from components.example_gen import EVAL_SPLIT, TEST_SPLIT, TRAIN_SPLIT
from pipeline.cli import options
from pipeline.cli.options import UsageError, add_output_dir_option, fix_for
from pipeline.definition import settings as declared


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    predict = commands.add_parser(
        "predict", parents=[common],
        help="score raw reviews with the served model",
        description="Print the probability that each review is positive. Reviews come from the "
        "arguments, from --file (one review per line), or else from standard input (one per line).",
    )
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="a review to score")
    predict.add_argument("--file", help="file of reviews, one per line ('-' for standard input)")
    _add_model_options(predict)
    predict.set_defaults(handler=_predict)

    evaluate = commands.add_parser(
        "evaluate", parents=[common],
        help="measure a served model's accuracy on an aclImdb folder",
        description="Report accuracy, precision, recall and AUC of a served model on one split of an "
        "aclImdb-layout folder.",
    )
    evaluate.add_argument("--data-dir", required=True, help="aclImdb folder (holding train/ and/or test/)")
    evaluate.add_argument(
        "--split", choices=(TEST_SPLIT, EVAL_SPLIT, TRAIN_SPLIT), default=TEST_SPLIT,
        help="test/, or the pipeline's eval or train part of train/ (default: %(default)s)",
    )
    options.add_options(evaluate, declared.PipelineSettings, names=["eval_percent"])
    _add_model_options(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    runs = commands.add_parser("runs", parents=[common], help="list past runs: when, data, accuracy, pushed or not",
                               description="List the runs recorded in the output folder's ML Metadata.")
    add_output_dir_option(runs)
    runs.set_defaults(handler=_runs)

    board = commands.add_parser(
        "tensorboard", parents=[common], help="open TensorBoard on the latest run (training curves and the Projector)",
        description="Start TensorBoard on the latest run's training logs and projector files.",
    )
    add_output_dir_option(board)
    board.add_argument("--port", type=int, default=6006, help="port to serve on (default: %(default)s)")
    board.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    board.set_defaults(handler=_tensorboard)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="SavedModel folder (default: the newest under OUTPUT/serving_model)")
    add_output_dir_option(parser)


def _read_reviews(args: argparse.Namespace) -> List[str]:
    if args.texts:
        return list(args.texts)
    if args.file and args.file != "-":
        try:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError as err:
            raise UsageError(f"cannot read --file {args.file}: {err.strerror}. Fix: pass a text file with one review a "
                             f"line, or - for standard input.") from err
    else:
        lines = sys.stdin.read().splitlines()
    reviews = [line for line in lines if line.strip()]
    if not reviews:
        raise UsageError("no review to score. Fix: pass reviews as arguments, with --file, or on standard input.")
    return reviews


def _predict(args: argparse.Namespace) -> int:
    from pipeline import layout

    reviews = _read_reviews(args)
    model_dir = layout.resolve_model_dir(args.model, args.output_dir)  # before TensorFlow loads, which takes seconds
    from pipeline import serving

    probabilities = serving.predict(model_dir, reviews)
    print(f"# model: {model_dir}", file=sys.stderr)
    for review, probability in zip(reviews, probabilities):
        sentiment = "positive" if probability >= 0.5 else "negative"
        snippet = review if len(review) <= 70 else review[:67] + "..."
        print(f"{probability:.4f}\t{sentiment}\t{snippet}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from components.setting import SettingError

    try:
        declared.PipelineSettings(eval_percent=args.eval_percent)
    except SettingError as err:
        raise UsageError(f"invalid --eval-percent: {err}. Fix: {fix_for('--eval-percent', err)}.") from err
    from pipeline import layout

    model_dir = layout.resolve_model_dir(args.model, args.output_dir)  # before TensorFlow loads, which takes seconds
    if args.split == "test" and "://" not in args.data_dir and not any(
            os.path.isdir(os.path.join(args.data_dir, "test", label)) for label in ("pos", "neg")):
        raise UsageError(f"--data-dir {args.data_dir} has no test/pos or test/neg folder. Fix: pass --split eval (the "
                         f"pipeline's eval part of train/), or a --data-dir holding test/.")
    from pipeline import data, serving

    data_dir = data.check_dataset_dir(args.data_dir) if args.split != "test" else os.path.abspath(args.data_dir)
    result = serving.evaluate(model_dir, serving.split_reviews(data_dir, args.split, args.eval_percent))
    print(f"model:     {model_dir}\ndata:      {data_dir} (split {args.split})")
    print(f"examples:  {result.examples:,}\naccuracy:  {result.accuracy:.4f}\nprecision: {result.precision:.4f}")
    print(f"recall:    {result.recall:.4f}\nAUC:       {result.auc:.4f}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from pipeline import layout
    from pipeline.records import history, status

    output_dir = os.path.abspath(args.output_dir)
    metadata_path = layout.output_paths(output_dir).metadata
    if not os.path.exists(metadata_path):
        raise UsageError(f"{output_dir} holds no runs ({metadata_path} is missing). Fix: pass the --output-dir of `run`.")
    print(history.format_runs(history.past_runs(metadata_path, declared.PIPELINE_NAME)))
    last = status.read(output_dir)
    if last:
        print(status.describe(last))
    return 0


def _tensorboard(args: argparse.Namespace) -> int:
    import signal
    import subprocess

    from pipeline import layout

    output_dir = os.path.abspath(args.output_dir)
    logdir = layout.output_paths(output_dir).projector
    if not os.path.isdir(logdir):
        raise UsageError(f"{output_dir} holds no finished run ({logdir} is missing). "
                         f"Fix: run `python pipeline.py run --output-dir {args.output_dir}` first.")
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", logdir,
               "--host", args.host, "--port", str(args.port)]
    print(f"TensorBoard on http://{args.host}:{args.port}/ (Scalars: training curves; Projector: embedding). "
          "Ctrl-C to stop.", flush=True)
    server = subprocess.Popen(command)
    stopped = []

    def stop(*_):
        stopped.append(True)
        server.terminate()

    # Ctrl-C reaches the server too (same process group); a SIGTERM sent to this process alone
    # (kill, a supervisor, a notebook's stop button) must not leave the server running.
    signal.signal(signal.SIGTERM, stop)
    try:
        code = server.wait()
    except KeyboardInterrupt:
        stop()
        code = server.wait()
    # Stopped on request: a clean exit; otherwise the server's own code (e.g. its port taken).
    return 0 if stopped else code

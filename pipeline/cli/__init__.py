"""Command line of the pipeline (``python pipeline.py COMMAND``).

Each module here holds one group of commands, their options and what they do; this one
builds the parser from them, sets up the output and turns errors into one line and an
exit code.
"""

import os

# tf.Transform's TransformFeaturesLayer is Keras 2: make `tf.keras` mean tf-keras,
# before anything imports TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from typing import List, Optional  # noqa: E402

from components import PROGRESS_LOGGER_NAME  # noqa: E402
from pipeline.cli import kubeflow, local, outputs  # noqa: E402
from pipeline.cli.options import UsageError  # noqa: E402
from pipeline.layout import OutputFolderError  # noqa: E402

__all__ = ["UsageError", "build_parser", "configure_output", "main"]


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line with the fix, not the usage (exit code 2, as argparse's)."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}. Fix: see `python {self.prog} --help` for the valid values.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="pipeline.py",
        description="Learn word embeddings from IMDB reviews with TFX and publish them for the Embedding Projector.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # `--debug` is accepted after the command as well; SUPPRESS keeps a subcommand's
    # default from overwriting a `--debug` given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors")
    for group in (local, kubeflow, outputs):
        group.add_commands(commands, common)
    return parser


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
    progress = logging.getLogger(PROGRESS_LOGGER_NAME)
    progress.propagate = False
    progress.setLevel(logging.WARNING if quiet else logging.INFO)
    if not progress.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", datefmt="%H:%M:%S"))
        progress.addHandler(handler)


def main(argv: Optional[List[str]] = None) -> int:
    """Parses ``argv`` and runs the command; returns the exit code."""
    args = build_parser().parse_args(argv)
    configure_output(quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", False))
    from components.validation import DataValidationError
    from pipeline import layout
    from pipeline.data import DataError

    try:
        return args.handler(args)
    except (UsageError, DataError, OutputFolderError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        # A bad option stops before any iteration; bad data or folders are a scheduled iteration's failure too.
        return 2 if isinstance(err, UsageError) else _record_failure(args, err, 2)
    except DataValidationError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return _record_failure(args, err, 3)
    except KeyboardInterrupt as err:
        print("interrupted: finished components are cached; run the same command again to resume", file=sys.stderr)
        return _record_failure(args, err, 130)
    except Exception as err:  # pylint: disable=broad-except
        if args.debug:
            raise
        if layout.is_disk_full(err, getattr(args, "output_dir", None)):
            print(f"error: the disk is full (No space left on device): {err}\nNothing was published: the "
                  "projector files and served models in the output folder are the last good ones. Fix: free "
                  "space, or pass another --output-dir, then run again; finished components are reused.",
                  file=sys.stderr)
            return _record_failure(args, err, 4)
        print(f"error: the pipeline failed: {type(err).__name__}: {err}\n"
              "Earlier results in the output folder are untouched; re-run with --debug for the traceback.",
              file=sys.stderr)
        return _record_failure(args, err, 1)


def _record_failure(args: argparse.Namespace, err: BaseException, code: int) -> int:
    """Writes the ``status.json`` of a `run` or `retrain` that failed, in an output folder that earlier runs used
    (it holds ML Metadata) and no other run holds (that run writes its own); returns ``code``."""
    if not getattr(args, "writes_status", False):
        return code
    from pipeline import layout
    from pipeline.records import status

    output_dir = os.path.abspath(os.path.expanduser(getattr(args, "output_dir", "") or ""))
    if not os.path.exists(layout.output_paths(output_dir).metadata):
        return code
    try:
        with layout.output_lock(output_dir):
            status.write(output_dir, args.command, status.FAILED, exit_code=code, error=f"{type(err).__name__}: {err}")
    except (OSError, layout.OutputFolderError):
        pass  # busy (its run writes the file), or a full disk: the exit code tells
    return code

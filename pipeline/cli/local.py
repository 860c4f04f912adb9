"""`run` and `retrain`: the pipeline on this machine (LocalDagRunner, Beam's DirectRunner)."""

import argparse
import logging

from components import PROGRESS_LOGGER_NAME
from components.example_gen import EXCLUDE_MARKER
from components.setting import SettingError
from pipeline.cli import options
from pipeline.cli.options import (
    UsageError, add_beam_args_option, add_output_dir_option, add_pipeline_options, beam_args_from,
    settings_from_args, word2vec_from_args)
from pipeline.definition import settings as declared


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    run = commands.add_parser(
        "run", parents=[common],
        help="run the pipeline locally (LocalDagRunner, Beam DirectRunner)",
        description="Run the whole pipeline on this machine and leave the projector files and the "
        "serving model under the output folder.",
    )
    run.add_argument(
        "--data-dir",
        help="aclImdb folder (holding train/ and optionally test/); default: $ACLIMDB_DIR, "
        "else the official archive, downloaded once into the cache folder",
    )
    add_output_dir_option(run, "where artifacts, ML Metadata and results go")
    run.add_argument("--cache-dir", help="download cache (default: $IMDB_EMBEDDINGS_CACHE or ~/.cache/imdb-embeddings)")
    _add_local_run_options(run)
    run.set_defaults(handler=_run, writes_status=True)

    retrain = commands.add_parser(
        "retrain", parents=[common],
        help="one scheduled retraining iteration over a data folder of spans (span-N/)",
        description="Ingest the newest span of DATA (DATA/span-N/, each an aclImdb folder), train on the window "
        "of the newest spans starting from the latest blessed model, and push the new model only if the "
        "Evaluator blesses it on every span. With no new span since the last iteration, do nothing.",
    )
    retrain.add_argument("--data-dir", required=True, help="folder of spans: span-1/, span-2/, ... each holding "
                         f"train/; a span whose folder holds a file named {EXCLUDE_MARKER} is left out")
    add_output_dir_option(retrain, "as in `run`")
    _add_local_run_options(retrain)
    retrain.set_defaults(handler=_retrain, writes_status=True)


def _add_local_run_options(parser: argparse.ArgumentParser) -> None:
    """The options `run` and `retrain` share: all of `run`'s but --data-dir's default and --cache-dir (`retrain`
    downloads nothing)."""
    add_pipeline_options(parser)
    options.add_options(parser, declared.RetentionSettings)
    parser.add_argument("--no-cache", action="store_true", help="re-run every component instead of reusing earlier results")
    parser.add_argument("--quiet", action="store_true", help="print only errors and the final summary")
    parser.add_argument("--verbose", action="store_true", help="also print every log line of TFX, Beam and TensorFlow")
    add_beam_args_option(parser, "extra Beam pipeline argument, e.g. --beam-arg=--direct_num_workers=2")


def _run(args: argparse.Namespace) -> int:
    from pipeline import data, layout

    hparams, settings = settings_from_args(args)
    word2vec = word2vec_from_args(args, hparams)
    beam_args = beam_args_from(args)
    retention = _retention_from_args(args)
    # The folders checked before anything is created: a missing data folder leaves no new output folder behind.
    output_dir = layout.check_output_dir(args.output_dir, create=False)
    data_dir = data.resolve_data_dir(args.data_dir, args.cache_dir)
    layout.check_output_dir(output_dir)
    # Imported after the checks of options and folders, so that those answer without loading TFX.
    from pipeline.runners import local_runner

    progress = logging.getLogger(PROGRESS_LOGGER_NAME)
    progress.info("Data: %s", data_dir)
    progress.info("Output: %s", output_dir)
    progress.info("Settings (preset %s): %s", args.preset, hparams.to_dict())
    if word2vec.word2vec:
        progress.info("Word2Vec settings: %s", word2vec.training_config())
    result = local_runner.run_local(declared.RunSettings(
        data_dir=data_dir, output_dir=output_dir, hparams=hparams, settings=settings,
        enable_cache=not args.no_cache, beam_pipeline_args=beam_args, word2vec=word2vec, retention=retention))
    return _finish(result)


def _retention_from_args(args: argparse.Namespace) -> declared.RetentionSettings:
    try:
        return options.from_args(declared.RetentionSettings, args)
    except SettingError as err:
        raise UsageError(f"invalid {options.flag(err.field)}: {err}. Fix: pass {options.flag(err.field)} 0 or "
                         f"more.") from err


def _finish(result) -> int:
    """Prints the run's report; returns the exit code of its outcome (``status.json`` says the same)."""
    from pipeline.records import report

    print(report.format_run_report(result), flush=True)
    return result.exit_code()


def _retrain(args: argparse.Namespace) -> int:
    from pipeline import data, layout

    hparams, settings = settings_from_args(args)
    word2vec = word2vec_from_args(args, hparams)
    beam_args = beam_args_from(args)
    retention = _retention_from_args(args)
    output_dir = layout.check_output_dir(args.output_dir, create=False)
    data_dir = data.check_dataset_dir(args.data_dir)
    layout.check_output_dir(output_dir)
    # TFX-free: an iteration with no new span answers from ML Metadata alone.
    from pipeline.runners import retrain_runner

    result = retrain_runner.retrain(declared.RunSettings(
        data_dir=data_dir, output_dir=output_dir, hparams=hparams, settings=settings,
        enable_cache=not args.no_cache, beam_pipeline_args=beam_args, word2vec=word2vec, retention=retention))
    if isinstance(result, retrain_runner.NoNewSpan):
        print(result.describe(), flush=True)
        return 0
    return _finish(result)

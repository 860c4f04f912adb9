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

from components import PROGRESS_LOGGER_NAME  # noqa: E402
from components.model.hparams import DEFAULT_PRESET, PRESETS, HParams  # noqa: E402
from components.setting import SettingError  # noqa: E402
from components.word2vec import Word2VecSettings  # noqa: E402
from pipeline.definition import settings as declared  # noqa: E402
from pipeline.layout import OutputFolderError  # noqa: E402


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
    _add_pipeline_options(run)
    _add_local_run_options(run)
    run.add_argument("--no-cache", action="store_true", help="re-run every component instead of reusing earlier results")
    retrain = commands.add_parser(
        "retrain", parents=[debug],
        help="one scheduled retraining iteration over a data folder of spans (span-N/)",
        description="Ingest the newest span of DATA (DATA/span-N/, each an aclImdb folder), train on the window "
        "of the newest spans starting from the latest blessed model, and push the new model only if the "
        "Evaluator blesses it on every span. With no new span since the last iteration, do nothing.",
    )
    retrain.add_argument("--data-dir", required=True, help="folder of spans: span-1/, span-2/, ... each holding train/")
    retrain.add_argument("--output-dir", default="output", help="as in `run` (default: %(default)s)")
    _add_pipeline_options(retrain)
    _add_local_run_options(retrain)
    _add_kubeflow_commands(commands, debug)

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
    declared.add_options(evaluate, declared.PipelineSettings, names=["eval_percent"])
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


def _add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """The preset and every declared setting, as options of a command that builds the pipeline."""
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET,
        help="named settings: 'tutorial' is exactly the seed tutorial's; 'fasttext' averages the embeddings of a "
        "review's distinct words, bigrams and trigrams, with masking, dropout, a cosine schedule and early stopping; "
        "'word2vec' is fasttext with 64-wide rows started from the Word2Vec step's table (default: %(default)s)",
    )
    declared.add_options(parser, HParams, default_text="the preset's")
    declared.add_options(parser, declared.PipelineSettings)
    declared.add_options(parser, Word2VecSettings)


def _add_local_run_options(parser: argparse.ArgumentParser) -> None:
    """Output and Beam options of the commands that run the pipeline on this machine."""
    parser.add_argument("--quiet", action="store_true", help="print only errors and the final summary")
    parser.add_argument("--verbose", action="store_true", help="also print every log line of TFX, Beam and TensorFlow")
    parser.add_argument(
        "--beam-arg", action="append", default=[], metavar="ARG",
        help="extra Beam pipeline argument, e.g. --beam-arg=--direct_num_workers=2 (repeatable)",
    )


DEFAULT_PACKAGE = f"{declared.PIPELINE_NAME}.yaml"


def _add_kubeflow_commands(commands, debug: argparse.ArgumentParser) -> None:
    compile_ = commands.add_parser(
        "compile", parents=[debug],
        help="compile the pipeline for Kubeflow Pipelines (YAML) or Vertex AI Pipelines (JSON)",
        description="Write the KFP v2 spec of the same pipeline `run` runs, for the image that holds this "
        "project. The data root and the Trainer's settings become pipeline parameters (data_root, hparams), "
        "which `submit --param` can change per run.",
    )
    compile_.add_argument("--target", choices=("kubeflow", "vertex"), default="kubeflow",
                          help="kubeflow: PipelineSpec YAML for open-source KFP; vertex: PipelineJob JSON "
                          "(default: %(default)s)")
    compile_.add_argument("--image", required=True, help="the pipeline image (see Dockerfile), e.g. "
                          "gcr.io/PROJECT/imdb-embeddings:TAG")
    compile_.add_argument("--pipeline-root", required=True,
                          help="gs:// URI for the artifacts, e.g. gs://BUCKET/tfx; written into the spec")
    compile_.add_argument("--data-root", required=True,
                          help="URI of the aclImdb folder (holding train/); the default of the data_root parameter")
    compile_.add_argument("--serving-model-dir", help="gs:// URI the Pusher pushes to; its newest version is the served "
                          "model, the baseline (default: PIPELINE_ROOT/serving_model)")
    compile_.add_argument("--test-split", action=argparse.BooleanOptionalAction, default=None,
                          help="whether the data has test/ to evaluate on (default: look under --data-root)")
    compile_.add_argument("--spans", action=argparse.BooleanOptionalAction, default=None,
                          help="whether --data-root holds span-N/ folders: then each run ingests the newest span, "
                          "trains on the window of the newest spans, warm-started (default: look under --data-root)")
    compile_.add_argument("--unsup-split", action=argparse.BooleanOptionalAction, default=None,
                          help="with Word2Vec, whether the data has train/unsup/ to learn from as well "
                          "(default: look under --data-root)")
    compile_.add_argument("--output", default=DEFAULT_PACKAGE,
                          help="file to write: *.yaml for kubeflow, *.json for vertex (default: %(default)s)")
    compile_.add_argument("--gpu", type=int, default=0, metavar="N", help="GPUs for the Trainer (default: 0)")
    compile_.add_argument("--gpu-type", help="on kubeflow, the Kubernetes resource of the GPU nodes (default "
                          "nvidia.com/gpu; e.g. amd.com/gpu); on vertex, a Vertex AI accelerator (default NVIDIA_TESLA_T4)")
    compile_.add_argument("--gpu-image", help="image of the Trainer when it has a GPU (the Dockerfile with "
                          "--build-arg GPU=1; default: --image)")
    compile_.add_argument("--no-cache", action="store_true", help="compile with task caching off")
    compile_.add_argument(
        "--beam-arg", action="append", default=[], metavar="ARG",
        help="Beam argument of the Beam-based components, e.g. --beam-arg=--runner=DataflowRunner (repeatable)",
    )
    _add_pipeline_options(compile_)

    for name, text in (("submit", "start one run of a compiled pipeline on Kubeflow Pipelines"),
                       ("schedule", "create a recurring run of a compiled pipeline on Kubeflow Pipelines")):
        command = commands.add_parser(name, parents=[debug], help=text, description=text[0].upper() + text[1:] + ".")
        command.add_argument("--host", required=True, help="the Kubeflow Pipelines API endpoint, e.g. "
                             "http://localhost:8080 or https://HOST/pipeline")
        command.add_argument("--package", default=DEFAULT_PACKAGE,
                             help="the spec `compile --target kubeflow` wrote (default: %(default)s)")
        command.add_argument("--experiment", default=declared.PIPELINE_NAME, help="experiment (default: %(default)s)")
        command.add_argument("--namespace", help="Kubernetes namespace of a multi-user deployment")
        command.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                             help="a pipeline parameter, e.g. data_root=gs://BUCKET/aclImdb (repeatable)")
        if name == "submit":
            command.add_argument("--run-name", help="name of the run (default: the pipeline's name and the time)")
        else:
            command.add_argument("--cron", required=True,
                                 help='6-field cron, seconds first: "0 0 3 * * *" is 03:00 every day')
            command.add_argument("--name", default=f"{declared.PIPELINE_NAME}-retraining",
                                 help="name of the recurring run (default: %(default)s)")


def _parameters(args: argparse.Namespace) -> dict:
    parameters = {}
    for item in args.param:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise UsageError(f"--param {item!r} is not NAME=VALUE. Fix: e.g. --param data_root=gs://BUCKET/aclImdb.")
        parameters[name] = value
    return parameters


def _command_compile(args: argparse.Namespace) -> int:
    hparams, settings = settings_from_args(args)
    word2vec = word2vec_from_args(args, hparams)
    beam_args = beam_args_from(args)
    if args.gpu < 0:
        raise UsageError(f"invalid --gpu: must be 0 or more, got {args.gpu}. Fix: pass --gpu a valid value.")
    # Imported after the option checks, so that a bad option answers without loading TFX.
    from pipeline import data
    from pipeline.runners import kubeflow_runner

    # The data's shape, from the options or, for those not given, from a look under --data-root.
    try:
        shape = data.describe_data_root(args.data_root, spans=args.spans, test_split=args.test_split,
                                        unsup_split=args.unsup_split if word2vec.word2vec else False)
    except data.DataRootUnreadable as err:
        missing = " ".join(f"--[no-]{name.replace('_', '-')}" for name in err.unknown)
        raise UsageError(f"could not look under --data-root {args.data_root} ({err.__cause__}). Fix: give the "
                         f"data's shape instead: {missing}.") from err
    root = args.pipeline_root.rstrip("/")
    try:
        output = kubeflow_runner.compile_pipeline(hparams, settings, kubeflow_runner.KubeflowSettings(
            target=args.target, image=args.image, pipeline_root=root, data_root=args.data_root,
            serving_model_dir=args.serving_model_dir or f"{root}/serving_model",
            data_shape=shape, beam_pipeline_args=beam_args, gpus=args.gpu,
            gpu_type=args.gpu_type, gpu_image=args.gpu_image, enable_cache=not args.no_cache, word2vec=word2vec,
        ), args.output)
    except kubeflow_runner.CompileError as err:
        raise UsageError(str(err)) from err
    print(f"Wrote {output} ({args.target}; {f'window of {settings.window} spans, warm start; ' if shape.spans else ''}"
          f"evaluates on {'test' if shape.test_split else 'eval'}). "
          f"Parameters: {kubeflow_runner.DATA_ROOT_PARAMETER} (default {args.data_root}), "
          f"{kubeflow_runner.HPARAMS_PARAMETER} (the Trainer's settings as JSON).")
    return 0


def _command_submit(args: argparse.Namespace) -> int:
    import time

    from pipeline.runners import kubeflow_client

    _check_package(args.package)
    name = args.run_name or f"{declared.PIPELINE_NAME} {time.strftime('%Y-%m-%d %H:%M:%S')}"
    try:
        done = kubeflow_client.submit(args.host, args.package, args.experiment, name, _parameters(args), args.namespace)
    except kubeflow_client.KubeflowClientError as err:
        raise UsageError(str(err)) from err
    print(f"Started run {done.run_id} in experiment {args.experiment} ({done.experiment_id}).")
    return 0


def _command_schedule(args: argparse.Namespace) -> int:
    from pipeline.runners import kubeflow_client

    _check_package(args.package)
    try:
        done = kubeflow_client.schedule(args.host, args.package, args.experiment, args.name, args.cron,
                                        _parameters(args), args.namespace)
    except ValueError as err:
        raise UsageError(f"{err}. Fix: pass a 6-field --cron.") from err
    except kubeflow_client.KubeflowClientError as err:
        raise UsageError(str(err)) from err
    print(f"Created recurring run {done.run_id} ({args.cron}, one run at a time, no catch-up) in experiment "
          f"{args.experiment}.")
    return 0


def _check_package(package: str) -> None:
    if not os.path.isfile(package):
        raise UsageError(f"--package {package} does not exist. Fix: write it with `python pipeline.py compile "
                         f"--target kubeflow --output {package} ...`, or pass its path.")
    if not package.endswith((".yaml", ".yml")):
        raise UsageError(f"--package {package} is not a KFP PipelineSpec YAML. Fix: compile with --target kubeflow "
                         "(a Vertex JSON goes to Vertex AI, see docs/kubeflow.md).")


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


def _command_evaluate(args: argparse.Namespace) -> int:
    try:
        declared.PipelineSettings(eval_percent=args.eval_percent)
    except SettingError as err:
        raise UsageError(f"invalid --eval-percent: {err}. Fix: pass --eval-percent a valid value.") from err
    from pipeline import layout

    model_dir = layout.resolve_model_dir(args.model, args.output_dir)  # before TensorFlow loads, which takes seconds
    from pipeline import data, serving

    data_dir = data.check_dataset_dir(args.data_dir) if args.split != "test" else os.path.abspath(args.data_dir)
    result = serving.evaluate(model_dir, serving.split_reviews(data_dir, args.split, args.eval_percent))
    print(f"model:     {model_dir}\ndata:      {data_dir} (split {args.split})")
    print(f"examples:  {result.examples:,}\naccuracy:  {result.accuracy:.4f}\nprecision: {result.precision:.4f}")
    print(f"recall:    {result.recall:.4f}\nAUC:       {result.auc:.4f}")
    return 0


def _command_runs(args: argparse.Namespace) -> int:
    from pipeline import layout
    from pipeline.records import history

    output_dir = os.path.abspath(args.output_dir)
    metadata_path = layout.output_paths(output_dir)["metadata"]
    if not os.path.exists(metadata_path):
        raise UsageError(f"{output_dir} holds no runs ({metadata_path} is missing). Fix: pass the --output-dir of `run`.")
    print(history.format_runs(history.past_runs(metadata_path, declared.PIPELINE_NAME)))
    return 0


def _command_tensorboard(args: argparse.Namespace) -> int:
    import signal
    import subprocess

    from pipeline import layout

    output_dir = os.path.abspath(args.output_dir)
    logdir = layout.output_paths(output_dir)["projector"]
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


def settings_from_args(args: argparse.Namespace) -> tuple:
    """``(HParams, PipelineSettings)``: the preset with every given option applied, and the gate settings.

    Raises:
      UsageError: Naming the option whose value fails its check.
    """
    return (_declared_from_args(HParams, args, base=PRESETS[args.preset]),
            _declared_from_args(declared.PipelineSettings, args))


def word2vec_from_args(args: argparse.Namespace, hparams: HParams) -> Word2VecSettings:
    """The Word2Vec settings given as options; on when ``hparams`` starts the classifier from its table.

    Raises:
      UsageError: Naming the option whose value fails its check.
    """
    word2vec = _declared_from_args(Word2VecSettings, args)
    try:
        return word2vec.for_model(hparams)
    except SettingError as err:
        option = declared.flag(err.field)
        raise UsageError(f"invalid {option}: {err}. Fix: pass {option} {word2vec.word2vec_dim} "
                         f"or {declared.flag('word2vec_dim')} {hparams.embedding_dim}.") from err


def _declared_from_args(declaration, args: argparse.Namespace, base=None):
    try:
        return declared.from_args(declaration, args, base=base)
    except SettingError as err:
        option = declared.flag(err.field)
        raise UsageError(f"invalid {option}: {err}. Fix: pass {option} a valid value.") from err


def beam_args_from(args: argparse.Namespace) -> tuple:
    """The ``--beam-arg`` values, checked.

    Raises:
      UsageError: when they choose a runner that cannot run the Beam components.
    """
    try:
        return declared.check_beam_args(args.beam_arg)
    except SettingError as err:
        raise UsageError(f"invalid --beam-arg: {err}.") from err


def _command_run(args: argparse.Namespace) -> int:
    from pipeline import data, layout

    hparams, settings = settings_from_args(args)
    word2vec = word2vec_from_args(args, hparams)
    beam_args = beam_args_from(args)
    output_dir = layout.check_output_dir(args.output_dir)
    data_dir = data.resolve_data_dir(args.data_dir, args.cache_dir)
    # Imported after the checks of options and folders, so that those answer without loading TFX.
    from pipeline.records import report
    from pipeline.runners import local_runner

    progress = logging.getLogger(PROGRESS_LOGGER_NAME)
    progress.info("Data: %s", data_dir)
    progress.info("Output: %s", output_dir)
    progress.info("Settings (preset %s): %s", args.preset, hparams.to_dict())
    if word2vec.word2vec:
        progress.info("Word2Vec settings: %s", word2vec.training_config())
    result = local_runner.run_local(
        declared.RunSettings(
            data_dir=data_dir,
            output_dir=output_dir,
            hparams=hparams,
            settings=settings,
            enable_cache=not args.no_cache,
            beam_pipeline_args=beam_args,
            word2vec=word2vec,
        )
    )
    print(report.format_run_report(result), flush=True)
    return 0


def _command_retrain(args: argparse.Namespace) -> int:
    from pipeline import data, layout

    hparams, settings = settings_from_args(args)
    word2vec = word2vec_from_args(args, hparams)
    beam_args = beam_args_from(args)
    output_dir = layout.check_output_dir(args.output_dir)
    data_dir = data.check_dataset_dir(args.data_dir)
    # TFX-free: an iteration with no new span answers from ML Metadata alone.
    from pipeline.runners import retrain_runner

    result = retrain_runner.retrain(declared.RunSettings(
        data_dir=data_dir, output_dir=output_dir, hparams=hparams, settings=settings,
        beam_pipeline_args=beam_args, word2vec=word2vec))
    if isinstance(result, retrain_runner.NoNewSpan):
        print(result.describe(), flush=True)
    else:
        from pipeline.records import report
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
    progress = logging.getLogger(PROGRESS_LOGGER_NAME)
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
    from components.validation import DataValidationError
    from pipeline.data import DataError

    try:
        commands = {
            "run": _command_run, "predict": _command_predict, "evaluate": _command_evaluate,
            "runs": _command_runs, "tensorboard": _command_tensorboard, "compile": _command_compile,
            "retrain": _command_retrain,
            "submit": _command_submit, "schedule": _command_schedule,
        }
        return commands[args.command](args)
    except (UsageError, DataError, OutputFolderError) as err:
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

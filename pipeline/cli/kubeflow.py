"""`compile`, `submit` and `schedule`: the pipeline on Kubeflow Pipelines or Vertex AI."""

import argparse
import os

from pipeline.cli.options import UsageError, add_beam_args_option, add_pipeline_options, beam_args_from, \
    settings_from_args, word2vec_from_args
from pipeline.definition import settings as declared
from pipeline.runners import locations, pod_resources

DEFAULT_PACKAGE = f"{declared.PIPELINE_NAME}.yaml"


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    compile_ = commands.add_parser(
        "compile", parents=[common],
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
                          help="where the artifacts go, written into the spec: gs://BUCKET/tfx; on kubeflow also the "
                          "cluster's MinIO or an S3 bucket (minio://mlpipeline/tfx, s3://BUCKET/tfx), whose artifacts "
                          "the steps use as the launcher's local copies")
    compile_.add_argument("--data-root", required=True,
                          help="the aclImdb folder (holding train/): a gs:// URI, or a path on a --volume; the "
                          "default of the data_root parameter")
    compile_.add_argument("--serving-model-dir", help="where the Pusher pushes, a gs:// URI or a path on a --volume; "
                          "its newest version is the served model, the baseline (default: PIPELINE_ROOT/serving_model)")
    compile_.add_argument("--volume", action="append", default=[], metavar="CLAIM=MOUNT_PATH",
                          help="kubeflow: a PersistentVolumeClaim every step mounts, e.g. imdb-data=/mnt/imdb, for the "
                          "data and the serving folder outside a bucket (repeatable)")
    compile_.add_argument("--test-split", action=argparse.BooleanOptionalAction, default=None,
                          help="whether the data has test/ to evaluate on (default: look under --data-root)")
    compile_.add_argument("--spans", action=argparse.BooleanOptionalAction, default=None,
                          help="whether --data-root holds span-N/ folders: then each run ingests the newest span, "
                          "trains on the window of the newest spans, warm-started (default: look under --data-root)")
    compile_.add_argument("--unsup-split", action=argparse.BooleanOptionalAction, default=None,
                          help="with Word2Vec, whether the data has train/unsup/ to learn from as well "
                          "(default: look under --data-root)")
    compile_.add_argument("--output",
                          help=f"file to write: *.yaml for kubeflow, *.json for vertex (default: {DEFAULT_PACKAGE}, "
                          f"or {declared.PIPELINE_NAME}.json for vertex)")
    compile_.add_argument("--gpu", type=int, default=0, metavar="N", help="GPUs for the Trainer (default: 0)")
    compile_.add_argument("--gpu-type", help="on kubeflow, the Kubernetes resource of the GPU nodes (default "
                          "nvidia.com/gpu; e.g. amd.com/gpu); on vertex, a Vertex AI accelerator (default NVIDIA_TESLA_T4)")
    compile_.add_argument("--gpu-image", help="image of the Trainer when it has a GPU (the Dockerfile with "
                          "--build-arg GPU=1; default: --image)")
    compile_.add_argument("--gpu-node-selector", action="append", default=[], metavar="LABEL=VALUE",
                          help="kubeflow: a node label the GPU steps' nodes must have, e.g. "
                          "cloud.google.com/gke-accelerator=nvidia-tesla-t4 (repeatable)")
    compile_.add_argument("--gpu-toleration", metavar="TAINT_KEY",
                          help="kubeflow: the taint of the GPU nodes that the GPU steps tolerate, \"\" for none "
                          f"(default: {pod_resources.DEFAULT_GPU_TOLERATION}, GKE's and the NVIDIA GPU operator's)")
    compile_.add_argument("--resources", action="append", default=[], metavar="GROUP_OR_STEP=CPU,MEMORY",
                          help=pod_resources.RESOURCES_HELP)
    compile_.add_argument("--no-cache", action="store_true", help="compile with task caching off")
    add_beam_args_option(compile_, "Beam argument of the Beam-based components, e.g. --beam-arg=--runner=DataflowRunner")
    add_pipeline_options(compile_)
    compile_.set_defaults(handler=_compile)

    for name, text, handler in (
            ("submit", "start one run of a compiled pipeline on Kubeflow Pipelines", _submit),
            ("schedule", "create a recurring run of a compiled pipeline on Kubeflow Pipelines", _schedule)):
        command = commands.add_parser(name, parents=[common], help=text, description=text[0].upper() + text[1:] + ".")
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
        command.set_defaults(handler=handler)


def _compile(args: argparse.Namespace) -> int:
    hparams, settings = settings_from_args(args)
    word2vec = word2vec_from_args(args, hparams)
    beam_args = beam_args_from(args)
    if args.gpu < 0:
        raise UsageError(f"invalid --gpu: must be 0 or more, got {args.gpu}. Fix: pass --gpu 0 or more.")
    try:
        resources = pod_resources.parse_resources(args.resources)
        node_selector = pod_resources.parse_node_selector(args.gpu_node_selector)
        volumes = pod_resources.parse_volumes(args.volume)
    except ValueError as err:
        raise UsageError(str(err)) from err
    if (node_selector or args.gpu_toleration is not None) and (not args.gpu or args.target != "kubeflow"):
        raise UsageError("--gpu-node-selector and --gpu-toleration place the GPU steps' pods on Kubernetes nodes, "
                         "which only --target kubeflow with --gpu N has. Fix: add --gpu N, or leave them out.")
    root = args.pipeline_root.rstrip("/")
    serving_model_dir = args.serving_model_dir or f"{root}/serving_model"
    try:
        locations.check_locations(args.target, root, args.data_root, serving_model_dir,
                                  word2vec.word_pairs_file if word2vec.word2vec else None, volumes, beam_args)
        if args.gpu:
            pod_resources.check_gpu_type(args.target, args.gpu_type or pod_resources.DEFAULT_GPU_TYPES[args.target])
    except locations.CompileError as err:
        raise UsageError(str(err)) from err
    unknown = [name for name, value in (("spans", args.spans), ("test-split", args.test_split),
                                         ("unsup-split", args.unsup_split if word2vec.word2vec else False))
               if value is None]
    if unknown and "://" not in args.data_root and not os.path.isdir(args.data_root):
        raise UsageError(f"--data-root {args.data_root} is no folder of this machine (a path of the steps' volume?), so "
                         f"compile cannot look at the data's shape. Fix: give it: "
                         f"{' '.join(f'--[no-]{name}' for name in unknown)}.")
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
    try:
        output = kubeflow_runner.compile_pipeline(hparams, settings, kubeflow_runner.KubeflowSettings(
            target=args.target, image=args.image, pipeline_root=root, data_root=args.data_root,
            serving_model_dir=serving_model_dir,
            data_shape=shape, beam_pipeline_args=beam_args, gpus=args.gpu,
            gpu_type=args.gpu_type, gpu_image=args.gpu_image, enable_cache=not args.no_cache, word2vec=word2vec,
            resources=resources, gpu_node_selector=node_selector, volumes=volumes,
            gpu_toleration=pod_resources.DEFAULT_GPU_TOLERATION if args.gpu_toleration is None else args.gpu_toleration,
        ), args.output or f"{declared.PIPELINE_NAME}{kubeflow_runner.TARGETS[args.target]}")
    except kubeflow_runner.CompileError as err:
        raise UsageError(str(err)) from err
    print(f"Wrote {output} ({args.target}; {f'window of {settings.window} spans, warm start; ' if shape.spans else ''}"
          f"evaluates on {'test' if shape.test_split else 'eval'}). "
          f"Parameters: {kubeflow_runner.DATA_ROOT_PARAMETER} (default {args.data_root}), "
          f"{kubeflow_runner.HPARAMS_PARAMETER} (the Trainer's settings as JSON; a run may change those "
          f"Transform does not use).")
    return 0


def _submit(args: argparse.Namespace) -> int:
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


def _schedule(args: argparse.Namespace) -> int:
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


def _parameters(args: argparse.Namespace) -> dict:
    """The run's parameters: checked against the package, ``hparams`` read as changes to its compiled value."""
    from pipeline.runners import run_parameters

    parameters = {}
    for item in args.param:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise UsageError(f"--param {item!r} is not NAME=VALUE. Fix: e.g. --param data_root=gs://BUCKET/aclImdb.")
        parameters[name] = value
    try:
        return run_parameters.run_parameters(args.package, parameters)
    except run_parameters.ParameterError as err:
        raise UsageError(str(err)) from err


def _check_package(package: str) -> None:
    if not os.path.isfile(package):
        raise UsageError(f"--package {package} does not exist. Fix: write it with `python pipeline.py compile "
                         f"--target kubeflow --output {package} ...`, or pass its path.")
    if not package.endswith((".yaml", ".yml")):
        raise UsageError(f"--package {package} is not a KFP PipelineSpec YAML. Fix: compile with --target kubeflow "
                         "(a Vertex JSON goes to Vertex AI, see docs/kubeflow.md).")

"""Where a compiled pipeline's steps can read and write, checked before TFX loads (``compile`` answers at once).

The image's TensorFlow and Beam open ``gs://`` and mounted folders. Artifacts may also live in MinIO
or S3 on open-source KFP, whose launcher copies them to and from the pod (``kfp_container``); the data
and the serving folder are read and written by the steps themselves.
"""

import os
from typing import Mapping, Optional, Sequence

# The stores that KFP's launcher copies artifacts from and to, and the steps use as local copies.
from pipeline.runners.kfp_container import LOCAL_COPY_SCHEMES

# The stores the image's TensorFlow and Beam open themselves (tf.io.gfile, Beam's filesystems).
WRITABLE_SCHEMES = ("gs://",)
# Pipeline roots: Vertex AI keeps artifacts in Cloud Storage; open-source KFP's launcher also copies them from and
# to MinIO or S3 (backend/src/v2/component/launcher_v2.go, LocalPathForURI), where the steps use its copies.
PIPELINE_ROOT_SCHEMES = {"kubeflow": WRITABLE_SCHEMES + LOCAL_COPY_SCHEMES, "vertex": WRITABLE_SCHEMES}
# Beam runners that work inside the step's pod, where the local copies are (by class name, case aside).
IN_POD_RUNNERS = ("directrunner", "direct", "switchingdirectrunner", "prismrunner", "prism")


class CompileError(ValueError):
    """A compile setting cannot work; the message says how to fix it."""


def on_volume(path: str, volumes: Mapping[str, str]) -> bool:
    """Whether ``path`` lies under one of the mount paths."""
    return any(path == mount or path.startswith(mount.rstrip("/") + "/") for mount in volumes.values())


def check_locations(target: str, pipeline_root: str, data_root: str, serving_model_dir: str,
                    word_pairs_file: Optional[str], volumes: Mapping[str, str], beam_pipeline_args: Sequence[str]) -> None:
    """Every location the steps read or write at run time is one the image can reach.

    Raises:
      CompileError: For a pipeline root the target cannot use, a location in a store the image cannot open,
        a path of this machine, or a Beam runner that cannot reach the local copies, with the fix.
    """
    schemes = PIPELINE_ROOT_SCHEMES[target]
    if not pipeline_root.startswith(schemes):
        other = "" if target == "vertex" else ", or the cluster's MinIO (minio://mlpipeline/...)"
        raise CompileError(
            f"--pipeline-root {pipeline_root}: {target} keeps artifacts under "
            f"{', '.join(schemes)} only. Fix: pass a bucket, e.g. --pipeline-root gs://BUCKET/tfx{other}.")
    if volumes and target != "kubeflow":
        raise CompileError("--volume mounts a Kubernetes PersistentVolumeClaim, which only --target kubeflow has. "
                           "Fix: keep the data and the serving folder in gs:// and leave --volume out.")
    locations = [("--data-root", data_root, "aclImdb"),
                 ("--serving-model-dir", serving_model_dir, "serving_model")]
    if word_pairs_file:
        locations.append(("--word-pairs-file", word_pairs_file, os.path.basename(word_pairs_file)))
    for option, uri, name in locations:
        if uri.startswith(WRITABLE_SCHEMES) or on_volume(uri, volumes):
            continue
        mount = "/mnt/imdb"
        volume_fix = f"--volume CLAIM={mount} and {option} {mount}/{name}" if target == "kubeflow" else ""
        if uri.startswith(LOCAL_COPY_SCHEMES):
            why = (f"the steps open it themselves, and the image's TensorFlow and Beam open {', '.join(WRITABLE_SCHEMES)} "
                   f"and mounted folders only (the launcher copies artifacts from and to "
                   f"{uri.split('://')[0]}://, not this)")
        elif "://" in uri:
            why = f"the image's TensorFlow and Beam open {', '.join(WRITABLE_SCHEMES)} and mounted folders only"
        else:
            why = "it is a path of this machine or of no volume the steps mount, which the steps cannot reach"
        copy = f"copy it to a bucket (gsutil cp -r {uri} gs://BUCKET/{name}) and pass" if "://" not in uri else "pass"
        raise CompileError(f"{option} {uri}: {why}. Fix: {copy} gs://BUCKET/{name}"
                           f"{', or put it on a volume: ' + volume_fix if volume_fix else ''}.")
    if pipeline_root.startswith(LOCAL_COPY_SCHEMES):
        args = list(beam_pipeline_args)
        runners = [arg.split("=", 1)[1] if "=" in arg else next(iter(args[index + 1:]), "")
                   for index, arg in enumerate(args) if arg == "--runner" or arg.startswith("--runner=")]
        if runners and runners[-1].rsplit(".", 1)[-1].lower() not in IN_POD_RUNNERS:  # Beam takes the last
            raise CompileError(
                f"--beam-arg=--runner={runners[-1]}: with --pipeline-root {pipeline_root} the steps work "
                f"on the launcher's copies of the artifacts on the pod's disk, which other machines' workers cannot "
                f"read. Fix: leave the runner out (DirectRunner, in the pod), or use a gs:// pipeline root.")

"""A stand-in for Beam's SDK worker boot (tests only), for Beam's worker pool (``--container_executable``).

It follows the container contract as ``sdks/python/container/boot.go`` (apache/beam) implements it,
which the image's ``/opt/apache/beam/boot`` runs on Dataflow, Flink and Spark:

1. obtain the provision info (pipeline options, staged dependencies) from the provision endpoint;
2. retrieve the staged files into ``SEMI_PERSISTENT_DIR/staged`` from the artifact endpoint and install
   the workflow package (``workflow.tar.gz``, the sdist ``--setup_file`` built);
3. run ``python -m apache_beam.runners.worker.sdk_worker_main`` with ``WORKER_ID``,
   ``PIPELINE_OPTIONS``, ``SEMI_PERSISTENT_DIRECTORY`` and the logging and control endpoints.

Differences: the package goes into a folder of its own (``--target``, put on the worker's
``PYTHONPATH``) without its dependencies, which the environment already has, as the image does;
boot installs it into the image's site-packages.
"""

import argparse
import json
import os
import subprocess
import sys

import grpc
from apache_beam.portability.api import (beam_artifact_api_pb2_grpc, beam_provision_api_pb2,
                                         beam_provision_api_pb2_grpc, beam_runner_api_pb2, endpoints_pb2)
from apache_beam.runners.portability import artifact_service
from google.protobuf import json_format, text_format

WORKFLOW_FILE = "workflow.tar.gz"  # boot.go's workflowFile: the sdist of --setup_file


def _descriptor(url: str) -> str:
    return text_format.MessageToString(endpoints_pb2.ApiServiceDescriptor(url=url))


def main(argv) -> int:
    parser = argparse.ArgumentParser()
    for flag in ("--id", "--logging_endpoint", "--artifact_endpoint", "--provision_endpoint", "--control_endpoint"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--semi_persist_dir", default=os.environ.get("BEAM_BOOT_SEMI_PERSIST_DIR", "/tmp"))
    args, _ = parser.parse_known_args(argv)
    metadata = [("worker_id", args.id)]

    # (1) The pipeline options.
    provision = beam_provision_api_pb2_grpc.ProvisionServiceStub(grpc.insecure_channel(args.provision_endpoint))
    info = provision.GetProvisionInfo(beam_provision_api_pb2.GetProvisionInfoRequest(), metadata=metadata).info
    options = json_format.MessageToJson(info.pipeline_options)

    # (2) The staged files, and the workflow package installed.
    staged = os.path.join(args.semi_persist_dir, f"staged-{args.id}")
    os.makedirs(staged, exist_ok=True)
    retrieval = beam_artifact_api_pb2_grpc.ArtifactRetrievalServiceStub(grpc.insecure_channel(args.artifact_endpoint))
    names = []
    for stored in artifact_service.resolve_artifacts(list(info.dependencies), retrieval, staged):
        name = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(stored.role_payload).staged_name
        path = beam_runner_api_pb2.ArtifactFilePayload.FromString(stored.type_payload).path
        os.replace(path, os.path.join(staged, name))
        names.append(name)
    print(f"beam_boot {args.id}: staged {sorted(names)}", flush=True)
    site = os.path.join(staged, "site-packages")
    if WORKFLOW_FILE in names:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "--target", site, os.path.join(staged, WORKFLOW_FILE)],
                       check=True)

    # (3) The SDK harness.
    env = dict(os.environ, WORKER_ID=args.id, PIPELINE_OPTIONS=options, SEMI_PERSISTENT_DIRECTORY=args.semi_persist_dir,
               LOGGING_API_SERVICE_DESCRIPTOR=_descriptor(args.logging_endpoint),
               CONTROL_API_SERVICE_DESCRIPTOR=_descriptor(args.control_endpoint),
               PYTHONPATH=os.pathsep.join(filter(None, [site, os.environ.get("PYTHONPATH")])))
    print(f"beam_boot {args.id}: options {json.dumps(sorted(json.loads(options).get('options', {})))}", flush=True)
    return subprocess.run([sys.executable, "-m", "apache_beam.runners.worker.sdk_worker_main"], env=env,
                          check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

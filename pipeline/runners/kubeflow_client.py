"""Submitting a compiled pipeline to Kubeflow Pipelines, once or on a schedule, with kfp's ``Client``.

Credentials come from kfp's own mechanisms (``KF_PIPELINES_SA_TOKEN_PATH``, the IAP
client-id variables, ``~/.config/kfp/context.json``); none is passed to, or written
into, the pipeline spec.
"""

import dataclasses
import re
from typing import Any, Dict, Optional

import kfp
import kfp_server_api
import urllib3

from pipeline.runners import run_parameters


class KubeflowClientError(Exception):
    """Kubeflow Pipelines could not be reached or refused a request; the message says how to fix it."""


class _Client(kfp.Client):
    """kfp's Client, asking the health endpoint once instead of five times, 5 s apart."""

    def get_kfp_healthz(self, sleep_duration: int = 5):  # pylint: disable=unused-argument
        return self._healthz_api.get_healthz()


@dataclasses.dataclass(frozen=True)
class Submitted:
    experiment_id: str
    run_id: str  # of the run, or of the recurring run


def _client(host: str, namespace: Optional[str]) -> kfp.Client:
    return _Client(host=host, namespace=namespace or "kubeflow")


def _explain(host: str, err: Exception) -> KubeflowClientError:
    if isinstance(err, kfp_server_api.ApiException):
        what = f"answered HTTP {err.status} {err.reason or ''}".strip()
        fix = ("check --host: it is the Kubeflow Pipelines API endpoint (e.g. http://localhost:8080 after "
               "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`), and that your credentials "
               "(KF_PIPELINES_SA_TOKEN_PATH, ~/.config/kfp/context.json) allow it")
    else:
        reason = getattr(err, "reason", None) or err
        # urllib3 names the connection object first ("<urllib3.connection.HTTPConnection object at 0x...>: ..."),
        # which says nothing to the reader.
        what = f"could not be reached ({re.sub(r'<[^<>]* object at 0x[0-9a-f]+>:? *', '', str(reason))})"
        fix = "check --host and that Kubeflow Pipelines is running and reachable from here"
    return KubeflowClientError(f"Kubeflow Pipelines at {host} {what}. Fix: {fix}.")


def pipeline_root_of(package: str) -> str:
    """The ``defaultPipelineRoot`` of a compiled spec.

    Open-source KFP's API server does not read it from the spec: a run whose request names no
    root writes to the cluster's default (``minio://mlpipeline/v2/artifacts``,
    ``backend/src/v2/config/env.go``), which the image cannot write. So every request names it.

    Raises:
      KubeflowClientError: If the spec has none, with the fix.
    """
    root = run_parameters.pipeline_spec(package).get("defaultPipelineRoot")
    if not root:
        raise KubeflowClientError(f"{package} names no pipeline root (defaultPipelineRoot). Fix: compile it again "
                                  "with `python pipeline.py compile --pipeline-root gs://BUCKET/tfx ...`.")
    return root


def submit(host: str, package: str, experiment: str, run_name: str, parameters: Dict[str, Any],
           namespace: Optional[str] = None) -> Submitted:
    """Starts one run of a compiled pipeline (its spec and pipeline root travel with the run request).

    Raises:
      KubeflowClientError: If the host cannot be reached or refuses a request.
    """
    pipeline_root = pipeline_root_of(package)
    try:
        client = _client(host, namespace)
        experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
        run = client.run_pipeline(experiment_id=experiment_id, job_name=run_name, pipeline_root=pipeline_root,
                                  pipeline_package_path=package, params=parameters)
    except (kfp_server_api.ApiException, urllib3.exceptions.HTTPError, OSError) as err:
        raise _explain(host, err) from err
    return Submitted(experiment_id, run.run_id)


def schedule(host: str, package: str, experiment: str, name: str, cron: str, parameters: Dict[str, Any],
             namespace: Optional[str] = None) -> Submitted:
    """Creates a recurring run: at most one run at a time, missed times not caught up.

    Raises:
      KubeflowClientError: If the host cannot be reached or refuses a request.
      ValueError: If ``cron`` is not a 6-field cron expression.
    """
    check_cron(cron)
    pipeline_root = pipeline_root_of(package)
    try:
        client = _client(host, namespace)
        experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
        recurring = client.create_recurring_run(
            experiment_id=experiment_id, job_name=name, cron_expression=cron, max_concurrency=1,
            no_catchup=True, pipeline_package_path=package, params=parameters, pipeline_root=pipeline_root)
    except (kfp_server_api.ApiException, urllib3.exceptions.HTTPError, OSError) as err:
        raise _explain(host, err) from err
    return Submitted(experiment_id, recurring.recurring_run_id)


def check_cron(cron: str) -> None:
    """KFP's scheduler takes 6 fields, seconds first ("0 0 3 * * *": 03:00 every day).

    Raises:
      ValueError: Otherwise, with the fix.
    """
    fields = cron.split()
    if len(fields) != 6:
        hint = f' (for the 5-field "{cron}", try "0 {cron}")' if len(fields) == 5 else ""
        raise ValueError(f"--cron {cron!r} has {len(fields)} fields; Kubeflow Pipelines takes 6: second minute "
                         f"hour day-of-month month day-of-week{hint}")

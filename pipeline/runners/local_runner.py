"""Runs the pipeline on this machine: LocalDagRunner, Beam's DirectRunner, ML Metadata in SQLite.

A thin runner: it chooses the paths (``layout``), holds the output folder's lock,
runs ``create_pipeline``, leaves the run report and the stable copies to
``results``, and what is kept of older runs to ``retention``.
"""

import dataclasses
import os
import time

from tfx import v1 as tfx

from pipeline import data, layout
from pipeline.definition import factory
from pipeline.definition.settings import RunSettings
from pipeline.records import metadata, progress, results, retention, status
from pipeline.runners import direct_runner


def run_local(run: RunSettings) -> results.RunReport:
    """Runs the pipeline to completion and publishes the stable copies.

    Raises:
      OutputFolderBusyError: If another run is using the output folder.
      RuntimeError: If the run ended without a projector output.
    """
    output_dir = layout.check_output_dir(run.output_dir)
    with layout.output_lock(output_dir):
        return run_locked(run, output_dir)


def run_locked(run: RunSettings, output_dir: str, command: str = "run") -> results.RunReport:
    """Runs the pipeline; the caller holds ``layout.output_lock(output_dir)``. Afterwards, deletes what is not
    kept of older runs and writes the outcome to ``status.json`` as ``command``'s.

    The data decides the pipeline's shape: a root of ``span-N/`` folders makes a
    pipeline over the window of the newest spans.
    """
    paths = layout.output_paths(output_dir)
    pipeline = factory.create_pipeline(
        pipeline_name=run.pipeline_name,
        pipeline_root=paths.pipeline_root,
        data_root=run.data_dir,
        serving_model_dir=paths.serving_model,
        hparams=run.hparams,
        # train/unsup/ is looked for only when Word2Vec would read it.
        data_shape=data.describe_data_root(run.data_dir, unsup_split=None if run.word2vec.word2vec else False),
        settings=run.settings,
        warm_start=run.warm_start,
        word2vec=run.word2vec,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata),
        beam_pipeline_args=list(run.beam_pipeline_args),
        enable_cache=run.enable_cache,
    )
    if os.path.exists(paths.metadata):
        for node_id in metadata.cancel_orphaned_executions(paths.metadata, run.pipeline_name):
            progress.LOGGER.info("%s: marked the execution of an interrupted run as canceled", node_id)
    served_before = layout.latest_serving_model(paths.serving_model)
    direct_runner.keep_every_element()
    started = time.monotonic()
    with progress.component_progress(paths.metadata, run.pipeline_name):
        tfx.orchestration.LocalDagRunner().run(pipeline)
    seconds = time.monotonic() - started

    store = metadata.open_store(paths.metadata)
    run_id = metadata.latest_run_id(store, run.pipeline_name) or ""
    components = metadata.component_runs(store, run.pipeline_name, run_id) if run_id else []
    results.publish_projector({c.node_id: c for c in components}, paths.projector)
    report = dataclasses.replace(
        results.collect(components, run_id, seconds, paths.projector, layout.latest_serving_model(paths.serving_model),
                        served_before), settings_digest=run.settings_digest())
    # The outcome first, so that a deletion killed below leaves it said.
    status.write(output_dir, command, **report.status_details())
    # Last: the report above reads this run's artifacts, which the newest runs' retention always keeps.
    try:
        pruned = retention.prune_runs(paths.metadata, paths.pipeline_root, run.pipeline_name, run.retention.keep_runs)
    except Exception as err:  # pylint: disable=broad-except
        # The run's outcome stands; the next run's prune takes the deletion up again.
        progress.LOGGER.warning("Could not delete the artifacts of older runs (%s): the next run tries again.", err)
        return report
    report = dataclasses.replace(report, pruned=pruned)
    status.write(output_dir, command, **report.status_details())
    return report

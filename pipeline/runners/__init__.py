"""Runners side by side, each choosing only paths and runner configuration: on this machine
(``local_runner``), scheduled retraining over spans (``retrain_runner``), Kubeflow Pipelines
(``kubeflow_runner`` compiles, ``kubeflow_client`` submits and schedules, ``kfp_container`` is each
step's entry point in the image)."""

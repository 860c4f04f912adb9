"""Kubeflow over the stores a cluster has: a MinIO or S3 pipeline root, whose artifacts the steps use as the
launcher's local copies (the compiled ``.path`` flags, the wrapper's URI swap and restore), the data and the serving
folder on a volume every step mounts, and the launcher's copies to and from an S3 API server
(``tests/object_store.py``) as ``backend/src/v2/objectstore/object_store.go`` makes them."""

import json
import os
import subprocess
import sys

import pytest
from google.protobuf import json_format
from kfp.client import client as kfp_client
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline.definition import nodes
from pipeline.definition.settings import PipelineSettings
from pipeline.runners import kfp_container, kubeflow_runner
from tests import kfp_launcher, object_store
from tests.kubeflow_fixtures import HPARAMS, ROOT
from tests.kubeflow_fixtures import kubeflow_settings as _kubeflow

MINIO = dict(pipeline_root="minio://mlpipeline/v2/artifacts", data_root="/mnt/imdb/aclImdb",
             serving_model_dir="/mnt/imdb/serving_model", volumes={"imdb-data": "/mnt/imdb"})


@pytest.fixture(name="s3")
def _s3():
    server = object_store.S3Server()
    yield object_store.Bucket(server.client(), "mlpipeline").create()
    server.stop()


def test_under_minio_every_step_mounts_the_volume_and_names_the_launchers_copy_of_each_artifact(tmp_path):
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), _kubeflow(spans=True, gpus=1, **MINIO),
                                              str(tmp_path / "minio.yaml"))
    package = kfp_client._extract_pipeline_yaml(output)  # pylint: disable=protected-access
    spec, platform = kfp_launcher.load_package(output)
    assert package.platform_spec == platform and spec.default_pipeline_root == MINIO["pipeline_root"]
    executors = json_format.MessageToDict(platform.platforms["kubernetes"])["deploymentSpec"]["executors"]
    labels = {name: spec.components[task.component_ref.name].executor_label for name, task in spec.root.dag.tasks.items()}
    assert set(executors) == set(labels.values())
    for config in executors.values():
        # The claim as `constant`, which every KFP 2 backend reads (driver/k8s.go; before 2.5 the only field).
        assert config["pvcMount"] == [{"constant": "imdb-data", "mountPath": "/mnt/imdb"}]
    assert "tolerations" in executors[labels[nodes.TRAINER]] and "tolerations" not in executors[labels[nodes.PUSHER]]
    containers = kfp_launcher.deployment_config(spec).executors
    trainer = list(containers[labels[nodes.TRAINER]].container.args)
    paths = [trainer[i + 1] for i, arg in enumerate(trainer) if arg.endswith("_artifact_path")]
    assert paths == ["base_model={{$.inputs.artifacts['base_model'].path}}",
                     "examples={{$.inputs.artifacts['examples'].path}}",
                     "schema={{$.inputs.artifacts['schema'].path}}",
                     "transform_graph={{$.inputs.artifacts['transform_graph'].path}}",
                     "model={{$.outputs.artifacts['model'].path}}",
                     "model_run={{$.outputs.artifacts['model_run'].path}}"]
    # Over Cloud Storage, TFX opens gs:// itself: no copies named, no volume, no platform spec.
    plain = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), _kubeflow(), str(tmp_path / "gcs.yaml"))
    with open(plain, encoding="utf-8") as f:
        assert "_artifact_path" not in f.read()


@pytest.mark.parametrize("overrides, message", [
    (dict(beam_pipeline_args=("--runner=FlinkRunner", "--flink_master=flink:8081")),
     "--beam-arg=--runner=FlinkRunner: with --pipeline-root minio://mlpipeline/v2/artifacts the steps work on the "
     "launcher's copies of the artifacts on the pod's disk, which other machines' workers cannot read."),
    (dict(beam_pipeline_args=("--runner", "DataflowRunner")), "--beam-arg=--runner=DataflowRunner: with"),
    # Beam takes the last --runner.
    (dict(beam_pipeline_args=("--runner=DirectRunner", "--runner=SparkRunner")), "--beam-arg=--runner=SparkRunner: "),
    (dict(volumes={}), "--data-root /mnt/imdb/aclImdb: it is a path of this machine or of no volume the steps mount"),
    (dict(target="vertex"), "vertex keeps artifacts under gs:// only"),
])
def test_what_cannot_work_over_local_copies_is_refused(tmp_path, overrides, message):
    settings = {**MINIO, **overrides}
    target = settings.pop("target", "kubeflow")
    with pytest.raises(kubeflow_runner.CompileError) as refused:
        kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), _kubeflow(target=target, **settings),
                                         str(tmp_path / f"p{kubeflow_runner.TARGETS[target]}"))
    assert message in str(refused.value)
    # The in-pod runner is fine.
    for runner in ("DirectRunner", "apache_beam.runners.direct.direct_runner.SwitchingDirectRunner", "prism"):
        kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), _kubeflow(
            beam_pipeline_args=(f"--runner={runner}", "--direct_num_workers=2"), **MINIO), str(tmp_path / "ok.yaml"))


@pytest.mark.parametrize("options, message", [
    (["--volume", "imdb-data"], "--volume 'imdb-data' is not CLAIM=MOUNT_PATH"),
    (["--volume", "Imdb_Data=/mnt/imdb"], "Fix: e.g. --volume imdb-data=/mnt/imdb."),
    (["--volume", "imdb.data=/mnt/imdb"], "a PersistentVolumeClaim's name: lower-case letters, digits and '-'"),
    (["--volume", "imdb=/minio/data"], "mounts over /minio, which KFP uses itself. Fix: mount it elsewhere"),
    (["--volume", "imdb=/"], "is not CLAIM=MOUNT_PATH"),
    (["--volume", "a=/mnt/a", "--volume", "a=/mnt/b"], "claim a is named twice"),
    (["--volume", "a=/mnt/a", "--volume", "b=/mnt/a/"], "path /mnt/a is named twice"),
    (["--volume", "imdb=/mnt/imdb", "--serving-model-dir", "/mnt/imdb/serving_model"],
     "--data-root /mnt/imdb/aclImdb is no folder of this machine (a path of the steps' volume?), so compile cannot "
     "look at the data's shape. Fix: give it: --[no-]spans --[no-]test-split."),
    # The locations too: a path on no volume, the default serving folder in the store, a root Vertex AI cannot use.
    ([], "--data-root /mnt/imdb/aclImdb: it is a path of this machine or of no volume the steps mount"),
    (["--volume", "imdb=/mnt/imdb"], "--serving-model-dir minio://mlpipeline/tfx/serving_model: the steps open it"),
    (["--volume", "imdb=/mnt/imdb", "--target", "vertex"], "--pipeline-root minio://mlpipeline/tfx: vertex keeps "
                                                           "artifacts under gs:// only"),
])
def test_a_bad_volume_or_location_is_refused_before_tensorflow_loads(options, message):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "pipeline.py", "compile", "--image", "i:1", "--pipeline-root",
         "minio://mlpipeline/tfx", "--data-root", "/mnt/imdb/aclImdb", *options], cwd=ROOT, capture_output=True,
        text=True, check=False)
    assert result.returncode == 2
    error = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert len(error) == 1 and message in error[0], result.stderr[-2000:]
    assert "tensorflow" not in {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                                if line.startswith("import time:")}


def _minio_input(pod):
    """An ExecutorInput for the Trainer under a MinIO root, as the driver builds it, and the wrapper's arguments
    with the local paths the launcher fills in (``LocalPathForURI`` on the pod, here under ``pod``)."""
    root = "minio://mlpipeline/v2/artifacts/p/run-1"
    executor_input = pipeline_spec_pb2.ExecutorInput()
    for key, uri in (("examples", f"{root}/Transform/u1/transformed_examples"),
                     ("base_model", f"{root}/ServedModel/u2/model")):
        artifact = executor_input.inputs.artifacts[key].artifacts.add(name="7", uri=uri)
        artifact.type.instance_schema = "title: tfx.Examples\ntype: object\n"
    model = executor_input.outputs.artifacts["model"].artifacts.add(name="model", uri=f"{root}/Trainer/u3/model")
    model.type.instance_schema = "title: tfx.Model\ntype: object\n"
    executor_input.outputs.output_file = f"{pod}/minio/mlpipeline/v2/artifacts/p/run-1/Trainer/u3/output_metadata.json"
    local = {uri: f"{pod}{kfp_launcher.local_path_for_uri(uri)}" for uri in
             (f"{root}/Transform/u1/transformed_examples", f"{root}/ServedModel/u2/model", f"{root}/Trainer/u3/model")}
    argv = ["--executor_class_path", "x.Executor", "--json_serialized_invocation_args",
            json_format.MessageToJson(executor_input)]
    for flag, side, key in ((kfp_container.INPUT_PATH_FLAG, executor_input.inputs, "examples"),
                            (kfp_container.INPUT_PATH_FLAG, executor_input.inputs, "base_model"),
                            (kfp_container.OUTPUT_PATH_FLAG, executor_input.outputs, "model")):
        argv += [flag, f"{key}={local[side.artifacts[key].artifacts[0].uri]}"]
    return executor_input, argv, local


def test_the_step_works_on_the_launchers_copies_and_hands_back_the_stores_uris(tmp_path):
    executor_input, argv, local = _minio_input(tmp_path)
    (tmp_path / "minio/mlpipeline/v2/artifacts/p/run-1/Transform/u1/transformed_examples").mkdir(parents=True)
    call = kfp_container.ExecutorCall(argv)
    assert call.argv[:3] == ["--executor_class_path", "x.Executor", "--json_serialized_invocation_args"]
    assert len(call.argv) == 4  # the path flags are the wrapper's, not TFX's
    fitted = json_format.Parse(call.argv[3], pipeline_spec_pb2.ExecutorInput())
    uris = {key: a.artifacts[0].uri for side in (fitted.inputs, fitted.outputs) for key, a in side.artifacts.items()}
    assert set(uris.values()) == set(local.values())
    # An empty folder the producer wrote left nothing in the store (a store has no folders): made again.
    assert all(os.path.isdir(uri) for key, uri in uris.items() if key != "model")
    # The ExecutorOutput stays at the driver's path, on the pod beside the copies: no bucket for TFX to write in.
    assert fitted.outputs.output_file == executor_input.outputs.output_file and call.launcher_output_file is None
    # TFX writes the ExecutorOutput with the URIs it was given; the launcher must find the store's there.
    output = pipeline_spec_pb2.ExecutorOutput()
    output.artifacts["model"].artifacts.add(uri=uris["model"]).metadata.update({"custom": 1})
    written = tmp_path / "minio/mlpipeline/v2/artifacts/p/run-1/Trainer/u3/output_metadata.json"
    written.parent.mkdir(parents=True)
    written.write_text(json_format.MessageToJson(output))
    call.hand_back_output()
    restored = json.loads(written.read_text())["artifacts"]["model"]["artifacts"][0]
    assert restored["uri"] == executor_input.outputs.artifacts["model"].artifacts[0].uri
    assert restored["metadata"] == {"custom": 1}


def test_before_kfp_2_15_the_drivers_file_in_tmp_gets_the_stores_uris_too(tmp_path):
    """Before KFP 2.15 the driver named /tmp/kfp_outputs/output_metadata.json, not a file beside the copies."""
    executor_input, argv, _ = _minio_input(tmp_path)
    old_file = tmp_path / "tmp" / "kfp_outputs" / "output_metadata.json"
    executor_input.outputs.output_file = str(old_file)
    argv[3] = json_format.MessageToJson(executor_input)
    call = kfp_container.ExecutorCall(argv)
    fitted = json_format.Parse(call.argv[3], pipeline_spec_pb2.ExecutorInput())
    assert fitted.outputs.output_file == str(old_file) and call.launcher_output_file is None
    output = pipeline_spec_pb2.ExecutorOutput()
    output.artifacts["model"].artifacts.add(uri=fitted.outputs.artifacts["model"].artifacts[0].uri)
    old_file.parent.mkdir(parents=True)
    old_file.write_text(json_format.MessageToJson(output))
    call.hand_back_output()
    restored = json.loads(old_file.read_text())["artifacts"]["model"]["artifacts"][0]["uri"]
    assert restored == executor_input.outputs.artifacts["model"].artifacts[0].uri


def test_an_artifact_in_the_store_without_its_local_copy_named_is_a_clear_error(tmp_path):
    _, argv, _ = _minio_input(tmp_path)
    with pytest.raises(ValueError, match=r"input artifact 'base_model' is in minio://, which the image cannot open, "
                                         r"and the step was not given the launcher's local copy of it. Fix: compile"):
        kfp_container.ExecutorCall(argv[:-4] + argv[-2:])


def test_the_launchers_copies_follow_upload_blob_and_download_blob(tmp_path, s3):
    model = tmp_path / "pod-1" / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "variables" / "variables.index").write_bytes(b"index")
    (model / "assets").mkdir()  # empty: no object
    (tmp_path / "pod-1" / "model_run").mkdir()
    (tmp_path / "pod-1" / "model_run" / "log").write_bytes(b"run")
    (tmp_path / "pod-1" / "blessing").write_bytes(b"")  # a one-file artifact
    assert s3.upload(str(model), "v2/run/model") == 2
    assert s3.upload(str(tmp_path / "pod-1" / "model_run"), "v2/run/model_run") == 1
    assert s3.upload(str(tmp_path / "pod-1" / "blessing"), "v2/run/blessing") == 1
    with pytest.raises(FileNotFoundError):  # the launcher lets a missing output pass
        s3.upload(str(tmp_path / "pod-1" / "missing"), "v2/run/missing")
    assert sorted(s3.keys("v2/")) == ["v2/run/blessing", "v2/run/model/saved_model.pb",
                                      "v2/run/model/variables/variables.index", "v2/run/model_run/log"]
    # The next pod: "model" is a prefix of "model_run", whose objects are not the model's (isBlobKeyUnderPrefix).
    pod = tmp_path / "pod-2"
    assert s3.download(str(pod / "model"), "v2/run/model") == 2
    assert sorted(p.relative_to(pod).as_posix() for p in pod.rglob("*") if p.is_file()) == [
        "model/saved_model.pb", "model/variables/variables.index"]
    assert not (pod / "model" / "assets").exists()
    assert s3.download(str(pod / "blessing"), "v2/run/blessing") == 1 and (pod / "blessing").is_file()

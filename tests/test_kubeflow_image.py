"""The pipeline image: a Beam worker of the pinned Beam (Dockerfile), the image's setup file handed to Beam, and
the schema file found in an installed project."""

import os

from pipeline.definition import factory
from pipeline.runners import kubeflow_runner
from tests.kubeflow_fixtures import ROOT


def test_the_schema_file_is_found_in_an_installed_project():
    from components import packaged_schema  # pylint: disable=import-outside-toplevel

    path = packaged_schema.resolve_schema_file(factory.SCHEMA_FILE)
    assert os.path.isfile(path) and not os.path.isabs(factory.SCHEMA_FILE)
    assert packaged_schema.resolve_schema_file("gs://bucket/schema.pbtxt") == "gs://bucket/schema.pbtxt"


def test_the_images_setup_file_is_added_only_where_beam_args_name_no_package():
    # No Beam arguments: TFX runs Beam in the container and builds no package at all.
    assert kubeflow_runner.beam_args_for_image(()) == []
    assert kubeflow_runner.beam_args_for_image(["--runner=DataflowRunner"]) == [
        "--runner=DataflowRunner", "--setup_file=/pipeline/setup.py"]
    # A package the user names is left alone, in either spelling.
    for given in (["--setup_file=/mine/setup.py"], ["--setup_file", "/mine/setup.py"],
                  ["--extra_packages=/mine/pkg.tar.gz"], ["--extra_package", "/mine/pkg.tar.gz"]):
        assert kubeflow_runner.beam_args_for_image(["--runner=DataflowRunner", *given]) == [
            "--runner=DataflowRunner", *given]


def test_the_image_is_a_beam_worker_of_the_pinned_beam():
    with open(os.path.join(ROOT, "constraints.txt"), encoding="utf-8") as f:
        (beam,) = [line.split("==")[1].strip() for line in f if line.startswith("apache-beam==")]
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as f:
        dockerfile = f.read()
    assert f"FROM apache/beam_python3.10_sdk:{beam} AS beam" in dockerfile
    assert "COPY --from=beam /opt/apache/beam /opt/apache/beam" in dockerfile
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in dockerfile

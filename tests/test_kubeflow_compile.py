"""Kubeflow compile: the compiled spec against the local pipeline (every task and edge), the input probe wired
into the steps that read outside the pipeline, the data root, hparams and pipeline root carried by the spec, the
presets, the rolling window with warm start, and word2vec. The backends' rules and what compile refuses or keeps
out are in test_kubeflow_compile_rules.py."""

import json
import os

import pytest
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.utils import import_utils

from components.artifacts import WordEmbedding
from components.model.hparams import PRESETS
from components.word2vec import Word2VecSettings
from pipeline import cli
from pipeline.definition import factory, nodes
from pipeline.definition.settings import PipelineSettings
from pipeline.runners import backend_spec, kfp_container, kubeflow_runner
from tests import corpus, kfp_launcher, kubeflow_fixtures
from tests.kubeflow_fixtures import HPARAMS
from tests.kubeflow_fixtures import kubeflow_settings as _kubeflow


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return kubeflow_fixtures.compile_spans_pipeline(tmp_path_factory)


def _local_pipeline(kubeflow, hparams=HPARAMS):
    """The pipeline as the local runner builds it."""
    return factory.create_pipeline("local", kubeflow.pipeline_root, kubeflow.data_root, kubeflow.serving_model_dir,
                                   hparams, kubeflow.data_shape, warm_start=kubeflow.data_shape.spans)


def test_compiled_tasks_and_edges_are_the_local_pipelines_and_the_probe(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    tasks = spec.root.dag.tasks
    local = _local_pipeline(kubeflow)
    assert set(tasks) == {c.id for c in local.components} | {nodes.INPUT_PROBE}
    for component in local.components:
        compiled_upstream = kfp_launcher.dependencies(tasks[component.id]) - {nodes.INPUT_PROBE}
        assert compiled_upstream == {u.id for u in component.upstream_nodes}, component.id
    # The gate holds Transform back, as locally.
    assert nodes.DATA_VALIDATION_GATE in tasks[nodes.TRANSFORM].dependent_tasks
    # The probe runs first and is never cached; it feeds the steps that read outside the pipeline.
    assert kfp_launcher.dependencies(tasks[nodes.INPUT_PROBE]) == set()
    assert not tasks[nodes.INPUT_PROBE].caching_options.enable_cache
    assert {name for name, task in tasks.items() if nodes.INPUT_PROBE in kfp_launcher.dependencies(task)} == {
        nodes.EXAMPLE_GEN, nodes.SERVED_MODEL, nodes.BASELINE_MODEL}
    assert all(task.caching_options.enable_cache for name, task in tasks.items() if name != nodes.INPUT_PROBE)


def test_transform_writes_its_graph_and_examples_only(compiled):
    # No analyzer cache (nothing reads it back) and no statistics of its input or output.
    kubeflow, output = compiled
    transform = {c.id: c for c in _local_pipeline(kubeflow).components}[nodes.TRANSFORM]
    assert set(transform.outputs) == {"transform_graph", "transformed_examples"}
    spec = kfp_launcher.load_pipeline_spec(output)
    component = spec.components[spec.root.dag.tasks[nodes.TRANSFORM].component_ref.name]
    assert set(component.output_definitions.artifacts) == {"transform_graph", "transformed_examples"}


def test_every_executor_is_a_container_the_open_source_backend_runs(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    kfp_launcher.check_executors(spec)  # the Argo compiler's rule: no resolver
    executors = kfp_launcher.deployment_config(spec).executors
    assert {label for label, e in executors.items() if e.WhichOneof("spec") != "container"} == set()
    for label, executor in executors.items():
        container = executor.container
        assert container.image == "registry.example/imdb-embeddings:1"
        # No driver hook: open-source KFP never runs one (the probe does its work).
        assert not container.HasField("lifecycle")
        if label == f"{nodes.INPUT_PROBE}_executor":
            assert list(container.command) == backend_spec.PROBE_COMMAND
            continue
        assert list(container.command) == backend_spec.PROJECT_ENTRYPOINT
        class_path = container.args[list(container.args).index("--executor_class_path") + 1]
        import_utils.import_class_by_path(class_path)


def test_the_probe_feeds_the_cache_keys_of_the_example_gen_and_the_served_model_steps(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    tasks = spec.root.dag.tasks
    example_gen = tasks[nodes.EXAMPLE_GEN].inputs.parameters
    for name in ("span", "input_fingerprint", "input_config"):
        assert example_gen[name].task_output_parameter.producer_task == nodes.INPUT_PROBE
        assert example_gen[name].task_output_parameter.output_parameter_key == name
    for task in (nodes.SERVED_MODEL, nodes.BASELINE_MODEL):
        source = tasks[task].inputs.parameters["served_version"].task_output_parameter
        assert (source.producer_task, source.output_parameter_key) == (nodes.INPUT_PROBE, "served_version")
    probe = tasks[nodes.INPUT_PROBE].inputs.parameters
    assert probe["input_base"].component_input_parameter == "data_root"
    # The window, for the fingerprint; the run's id, filled in by KFP's driver, so that no run finds it cached.
    assert probe["custom_config"] == example_gen["custom_config"]
    assert probe["run_id"].runtime_value.constant.string_value == "{{$.pipeline_job_uuid}}"
    assert probe["serving_model_dir"].runtime_value.constant.string_value == kubeflow.serving_model_dir
    # TFX's entry point types the span by the inputs spec it is given.
    executor = kfp_launcher.deployment_config(spec).executors[f"{nodes.EXAMPLE_GEN}_executor"].container
    inputs_spec = json.loads(executor.args[list(executor.args).index("--json_serialized_inputs_spec_args") + 1])
    assert inputs_spec["parameters"]["span"] == {"parameterType": "NUMBER_INTEGER"}
    outputs = spec.components[nodes.INPUT_PROBE].output_definitions.parameters
    assert {name: pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name(p.parameter_type)
            for name, p in outputs.items()} == kfp_container.PROBE_OUTPUTS


def test_data_root_hparams_and_the_pipeline_root_travel_with_the_spec(compiled):
    kubeflow, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    assert spec.default_pipeline_root == "gs://bucket/root"
    parameters = spec.root.input_definitions.parameters
    assert parameters["data_root"].default_value.string_value == kubeflow.data_root
    assert json.loads(parameters["hparams"].default_value.string_value) == HPARAMS.to_dict()
    tasks = spec.root.dag.tasks
    assert tasks[nodes.EXAMPLE_GEN].inputs.parameters["input_base"].component_input_parameter == "data_root"
    assert tasks[nodes.TRAINER].inputs.parameters["custom_config"].component_input_parameter == "hparams"
    # Transform's settings are compiled in: only they change its output.
    transform_config = tasks[nodes.TRANSFORM].inputs.parameters["custom_config"].runtime_value.constant.string_value
    assert json.loads(transform_config) == HPARAMS.transform_config()
    # Spans: the window of the newest spans, warm-started from the served model.
    custom = json.loads(tasks[nodes.EXAMPLE_GEN].inputs.parameters["custom_config"].runtime_value.constant.string_value)
    assert custom["custom_config"]["value"]["window"] == PipelineSettings().window
    base_model = tasks[nodes.TRAINER].inputs.artifacts["base_model"].task_output_artifact
    assert (base_model.producer_task, base_model.output_artifact_key) == (nodes.SERVED_MODEL, "model")
    baseline = tasks[nodes.EVALUATOR].inputs.artifacts["baseline_model"].task_output_artifact
    assert (baseline.producer_task, baseline.output_artifact_key) == (nodes.BASELINE_MODEL, "model")
    candidate = tasks[nodes.BASELINE_MODEL].inputs.artifacts["candidate"].task_output_artifact
    assert (candidate.producer_task, candidate.output_artifact_key) == (nodes.TRAINER, "model")


def test_every_preset_compiles_its_settings(tmp_path):
    for preset, hparams in PRESETS.items():
        output = kubeflow_runner.compile_pipeline(hparams, PipelineSettings(), _kubeflow(unsup_split=True),
                                                  str(tmp_path / f"{preset}.yaml"))
        spec = kfp_launcher.load_pipeline_spec(output)
        assert json.loads(spec.root.input_definitions.parameters["hparams"].default_value.string_value) == \
            hparams.to_dict()


def test_the_rolling_window_and_warm_start_compile(tmp_path):
    data_root = str(tmp_path / "spans")
    for span in (1, 2):
        corpus.write_corpus(os.path.join(data_root, f"span-{span}"), train_per_label=5, test_per_label=None, seed=span)
    output = str(tmp_path / "retraining.yaml")
    # The data on a volume the steps mount, here at the same path: compile looks at it.
    assert cli.main(["compile", "--image", "img:1", "--pipeline-root", "gs://b/root", "--data-root", data_root,
                     "--volume", f"imdb-data={tmp_path}", "--output", output, "--window", "4"]) == 0
    spec = kfp_launcher.load_pipeline_spec(output)
    tasks = spec.root.dag.tasks
    example_gen = tasks[nodes.EXAMPLE_GEN].inputs.parameters
    # The probe fills in the newest span and hands the ExampleGen the resolved patterns.
    probe = tasks[nodes.INPUT_PROBE].inputs.parameters
    patterns = [s["pattern"] for s in json.loads(probe["input_config"].runtime_value.constant.string_value)["splits"]]
    assert patterns == ["span-{SPAN}/train/*/*.txt", "span-{SPAN}/train/*/*.txt"]
    custom = json.loads(example_gen["custom_config"].runtime_value.constant.string_value)["custom_config"]["value"]
    assert custom["window"] == 4
    # The Trainer starts from the served model.
    base_model = tasks[nodes.TRAINER].inputs.artifacts["base_model"].task_output_artifact
    assert base_model.producer_task == nodes.SERVED_MODEL


def test_word2vec_compiles_with_the_unsup_split_and_the_trainers_gpu(tmp_path):
    kubeflow = _kubeflow(gpus=1,
                         gpu_image="registry.example/imdb-embeddings-gpu:1", unsup_split=True,
                         word2vec=Word2VecSettings(word2vec=True, word2vec_epochs=2))
    output = kubeflow_runner.compile_pipeline(HPARAMS, PipelineSettings(), kubeflow, str(tmp_path / "w2v.yaml"))
    spec = kfp_launcher.load_pipeline_spec(output)
    tasks = spec.root.dag.tasks
    assert nodes.DATA_VALIDATION_GATE in tasks[nodes.WORD2VEC].dependent_tasks
    assert nodes.WORD2VEC in kfp_launcher.dependencies(tasks[nodes.PROJECTOR_EXPORTER])
    settings = json.loads(tasks[nodes.WORD2VEC].inputs.parameters["settings"].runtime_value.constant.string_value)
    assert settings["word2vec_epochs"] == 2
    splits = json.loads(tasks[nodes.WORD2VEC].inputs.parameters["splits"].runtime_value.constant.string_value)
    assert splits == ["train", "eval", "unsup"]
    input_config = tasks[nodes.INPUT_PROBE].inputs.parameters["input_config"].runtime_value.constant.string_value
    assert "train/unsup/*.txt" in input_config
    container = kfp_launcher.deployment_config(spec).executors[f"{nodes.WORD2VEC}_executor"].container
    assert (container.image, container.resources.accelerator.count) == ("registry.example/imdb-embeddings-gpu:1", 1)
    import_utils.import_class_by_path(container.args[list(container.args).index("--executor_class_path") + 1])
    # The output type is importable by its schema title, as TFX's entrypoint does on a cluster.
    assert f"title: {WordEmbedding.TYPE_NAME}" in open(output).read()
    assert import_utils.import_class_by_path(WordEmbedding.TYPE_NAME) is WordEmbedding


def test_the_word2vec_preset_compiles_the_table_as_the_trainers_base_model(tmp_path):
    kubeflow = _kubeflow(unsup_split=True)
    output = kubeflow_runner.compile_pipeline(PRESETS["word2vec"], PipelineSettings(), kubeflow,
                                              str(tmp_path / "w2v.yaml"))
    tasks = kfp_launcher.load_pipeline_spec(output).root.dag.tasks
    base_model = tasks[nodes.TRAINER].inputs.artifacts["base_model"].task_output_artifact
    assert (base_model.producer_task, base_model.output_artifact_key) == (nodes.WORD2VEC, "model")
    standardization = tasks[nodes.WORD2VEC].inputs.parameters["standardization"].runtime_value.constant
    assert standardization.string_value == "split_punctuation"


def test_no_step_has_an_optional_input_artifact(compiled):
    """Vertex AI never caches a component with an optional input artifact (kubeflow/pipelines#11410): the warm-start
    ServedModel, whose candidate is left out, would re-run and retrain the Trainer every run."""
    _, output = compiled
    spec = kfp_launcher.load_pipeline_spec(output)
    assert spec.components[nodes.SERVED_MODEL].input_definitions.artifacts == {}
    assert not [(name, key) for name, component in spec.components.items()
                for key, artifact in component.input_definitions.artifacts.items() if artifact.is_optional]

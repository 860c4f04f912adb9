"""The pipeline's node ids: ``create_pipeline`` gives them to its components, and every reader of
ML Metadata (progress lines, run report, past runs) finds the components by them.

Free of TensorFlow imports. Changing an id here changes it everywhere at once.
"""

INPUT_PROBE = "InputProbe"  # Kubeflow only: the data's span and fingerprint and the served version, before the cache
EXAMPLE_GEN = "AclImdbExampleGen"
SCHEMA_GEN = "ImportSchemaGen"
STATISTICS_GEN = "StatisticsGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
DATA_VALIDATION_GATE = "DataValidationGate"
TRANSFORM = "Transform"
TRAINER = "Trainer"
PROJECTOR_EXPORTER = "ProjectorExporter"
WORD2VEC = "Word2Vec"
SERVED_MODEL = "ServedModel"  # the served model: the Trainer's base model (warm start)
BASELINE_MODEL = "BaselineModel"  # the served model other than the candidate: the Evaluator's baseline
EVALUATOR = "Evaluator"
PUSHER = "Pusher"

# Output keys the readers of ML Metadata look up: TFX's names for its components' outputs
# (pinned against ``tfx.types.standard_component_specs`` by a test), here so that readers
# that must answer without importing TFX have them.
EXAMPLES_OUTPUT = "examples"  # AclImdbExampleGen
STATISTICS_OUTPUT = "statistics"  # StatisticsGen
TRANSFORM_GRAPH_OUTPUT = "transform_graph"  # Transform
MODEL_OUTPUT = "model"  # Trainer
MODEL_RUN_OUTPUT = "model_run"  # Trainer: its TensorBoard logs and training summary
EVALUATION_OUTPUT = "evaluation"  # Evaluator
BLESSING_OUTPUT = "blessing"  # Evaluator
PUSHED_MODEL_OUTPUT = "pushed_model"  # Pusher

# What became of a component's execution in a run, from ML Metadata's execution state
# (``metadata.EXECUTION_STATES`` maps them).
RAN = "ran"
CACHED = "cached"
FAILED = "failed"
RUNNING = "running"
NEW = "new"
CANCELED = "canceled"
FINISHED_STATES = (RAN, CACHED)

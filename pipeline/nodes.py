"""The pipeline's node ids: ``create_pipeline`` gives them to its components, and every reader of
ML Metadata (progress lines, run report, past runs) finds the components by them.

Free of TensorFlow imports. Changing an id here changes it everywhere at once.
"""

EXAMPLE_GEN = "AclImdbExampleGen"
SCHEMA_GEN = "ImportSchemaGen"
STATISTICS_GEN = "StatisticsGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
DATA_VALIDATION_GATE = "DataValidationGate"
TRANSFORM = "Transform"
TRAINER = "Trainer"
PROJECTOR_EXPORTER = "ProjectorExporter"
WORD2VEC = "Word2Vec"
BASELINE_RESOLVER = "latest_blessed_model_resolver"  # the Evaluator's baseline
WARM_START_RESOLVER = "warm_start_model_resolver"  # the Trainer's base model (retraining)
EVALUATOR = "Evaluator"
PUSHER = "Pusher"

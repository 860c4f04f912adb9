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

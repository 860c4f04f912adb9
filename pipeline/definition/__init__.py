"""The pipeline's definition: its node ids, its settings and ``create_pipeline``, which builds it
from them and decides nothing from a local disk."""

"""A component that publishes a trained embedding table for the Embedding Projector."""

# Kept here, free of TensorFlow imports, so the command line can show it in --help quickly.
DEFAULT_PROBE_WORDS = ("beautiful", "wonderful", "great", "awful", "boring", "worst")

# The component's output key, and the probe words' neighbours it writes there: for readers without TensorFlow.
PROJECTOR_KEY = "projector"
NEIGHBOURS_FILE = "nearest_neighbours.json"

"""Feature keys and reserved token ids shared by preprocessing, model, trainer and exporter."""

from components.example_gen import aclimdb

# Raw features (written by the ExampleGen).
RAW_TEXT_KEY = aclimdb.TEXT_KEY
LABEL_KEY = aclimdb.LABEL_KEY

# Transformed features (written by Transform).
TOKEN_IDS_KEY = "token_ids"

# Name of the tf.Transform vocabulary (the file under transform_fn/assets/).
VOCABULARY_NAME = "tokens"

# Token id 0 pads short reviews; ids 1..num_oov_buckets stand for tokens outside the
# vocabulary; the vocabulary follows, most frequent token first.
PADDING_ID = 0
PADDING_TOKEN = ""
OOV_TOKEN = "[UNK]"

# Name of the Embedding layer whose table the projector exports.
EMBEDDING_LAYER_NAME = "embedding"


def oov_tokens(num_oov_buckets: int) -> list:
    """Labels of the OOV rows, as Keras' TextVectorization names them."""
    if num_oov_buckets == 1:
        return [OOV_TOKEN]
    return [f"[UNK_{i}]" for i in range(num_oov_buckets)]

"""Feature keys and reserved token ids shared by preprocessing, model, trainer and exporter."""

from components import example_gen

# Raw features (written by the ExampleGen).
RAW_TEXT_KEY = example_gen.TEXT_KEY
LABEL_KEY = example_gen.LABEL_KEY

# Transformed features (written by Transform).
TOKEN_IDS_KEY = "token_ids"

# Name of the tf.Transform vocabulary (the file under transform_fn/assets/).
VOCABULARY_NAME = "tokens"

# Token id 0 pads short reviews; ids 1..num_oov_buckets stand for tokens outside the
# vocabulary; the vocabulary follows, most frequent token first.
PADDING_ID = 0
PADDING_TOKEN = ""
OOV_TOKEN = "[UNK]"

# Layer names of the classifier: the Embedding whose table the projector exports, and the head after the
# average whose weights give each row its polarity (components/projector/projector.py).
EMBEDDING_LAYER_NAME = "embedding"
AVERAGE_LAYER_NAME = "average"
DROPOUT_LAYER_NAME = "dropout"
HIDDEN_LAYER_NAME = "hidden"
LOGIT_LAYER_NAME = "logit"


def oov_tokens(num_oov_buckets: int) -> list:
    """Labels of the OOV rows, as Keras' TextVectorization names them."""
    if num_oov_buckets == 1:
        return [OOV_TOKEN]
    return [f"[UNK_{i}]" for i in range(num_oov_buckets)]

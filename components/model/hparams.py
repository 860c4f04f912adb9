"""Hyperparameters of preprocessing and training, and their named presets."""

import dataclasses
from typing import Any, Dict, Mapping, Optional

# Settings that change the Transform output. Only these reach the Transform
# component, so changing e.g. the epochs re-runs the Trainer but not Transform.
TRANSFORM_KEYS = ("vocab_size", "sequence_length", "num_oov_buckets", "ngram_size", "approximate_vocabulary")
# tf.Transform refuses a larger top_k for its approximate vocabulary.
APPROXIMATE_VOCABULARY_MAX_TOKENS = 200_000
LEARNING_RATE_SCHEDULES = ("constant", "cosine")


class SettingError(ValueError):
    """An invalid setting; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def setting(default: Any, help_text: str) -> Any:
    """A field with its help text, which the command line shows for its option."""
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass(frozen=True)
class HParams:
    """Settings of the text pipeline and the model: each field's default, help text and check are here.

    ``vocab_size`` counts rows as Keras' TextVectorization counts ``max_tokens``: the
    padding row, the OOV rows, then the ``vocab_size - 1 - num_oov_buckets`` most
    frequent tokens of the train split. With ``ngram_size`` 2 the bigrams of the kept
    words ("very good") are tokens of their own, in the same vocabulary.
    """

    vocab_size: int = setting(10000, "rows of the embedding table: padding, OOV rows and the most frequent tokens")
    sequence_length: int = setting(100, "tokens kept per review (longer ones are truncated, shorter ones padded)")
    num_oov_buckets: int = setting(1, "embedding rows shared by out-of-vocabulary tokens")
    ngram_size: int = setting(1, "1: words; 2: words and their bigrams as tokens")
    approximate_vocabulary: bool = setting(
        False, "count tokens with tf.Transform's approximate_vocabulary (Misra-Gries, one bounded sketch per "
        "batch): about 3x faster with bigrams; the most frequent tokens are exact, the rarest kept ones may differ")
    mask_padding: bool = setting(False, "average over the review's tokens only, not its padding")
    embedding_dim: int = setting(16, "width of each token's embedding")
    hidden_units: int = setting(16, "units of the hidden Dense layer; 0 for none (a linear classifier, as fastText)")
    dropout: float = setting(0.0, "dropout rate on the averaged embedding; 0 for none")
    epochs: int = setting(15, "most passes over the train split")
    batch_size: int = setting(1024, "examples per training step")
    learning_rate: float = setting(0.001, "Adam's (initial) learning rate")
    learning_rate_schedule: str = setting("constant", "'constant', or 'cosine' decay to 0 over the epochs")
    early_stopping_patience: int = setting(
        0, "epochs without a better eval accuracy before stopping, best epoch kept; 0: never")
    seed: int = setting(123, "seed of initialisation and shuffling")

    def __post_init__(self):
        positive = ("vocab_size", "sequence_length", "num_oov_buckets", "embedding_dim", "epochs", "batch_size")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SettingError(name, f"{name} must be a positive integer, got {value!r}")
        for name in ("hidden_units", "early_stopping_patience", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SettingError(name, f"{name} must be a non-negative integer, got {value!r}")
        if self.ngram_size not in (1, 2):
            raise SettingError("ngram_size", f"ngram_size must be 1 or 2, got {self.ngram_size!r}")
        if not 0 <= self.dropout < 1:
            raise SettingError("dropout", f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
            raise SettingError(
                "learning_rate_schedule",
                f"learning_rate_schedule must be one of {LEARNING_RATE_SCHEDULES}, got {self.learning_rate_schedule!r}",
            )
        if self.vocab_size < self.num_oov_buckets + 2:
            raise SettingError(
                "vocab_size",
                f"vocab_size {self.vocab_size} leaves no room for tokens: it counts the padding row and "
                f"{self.num_oov_buckets} OOV row(s), so it must be at least {self.num_oov_buckets + 2}"
            )
        if self.approximate_vocabulary and self.max_vocabulary_tokens > APPROXIMATE_VOCABULARY_MAX_TOKENS:
            raise SettingError(
                "approximate_vocabulary",
                f"approximate_vocabulary keeps at most {APPROXIMATE_VOCABULARY_MAX_TOKENS} tokens, and vocab_size "
                f"{self.vocab_size} asks for {self.max_vocabulary_tokens}; use the exact vocabulary "
                "(--no-approximate-vocabulary) or a smaller vocab_size",
            )
        if not self.learning_rate > 0:
            raise SettingError("learning_rate", f"learning_rate must be positive, got {self.learning_rate!r}")

    @property
    def max_vocabulary_tokens(self) -> int:
        """How many of the most frequent tokens the vocabulary keeps."""
        return self.vocab_size - 1 - self.num_oov_buckets

    @property
    def token_ids_length(self) -> int:
        """Length of the transformed ``token_ids``: the words, then (with bigrams) their bigrams."""
        return self.sequence_length if self.ngram_size == 1 else 2 * self.sequence_length - 1

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def transform_config(self) -> Dict[str, Any]:
        """The subset of settings the Transform component needs."""
        return {key: getattr(self, key) for key in TRANSFORM_KEYS}

    @classmethod
    def from_dict(cls, values: Optional[Mapping[str, Any]]) -> "HParams":
        """Builds HParams from a (possibly partial) dict, e.g. a component's custom_config."""
        values = dict(values or {})
        unknown = set(values) - {field.name for field in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown hyperparameters: {sorted(unknown)}")
        return cls(**values)


PRESETS: Dict[str, HParams] = {
    # Exactly the seed tutorial's model and training settings.
    "tutorial": HParams(),
    # A fastText-style classifier (Joulin et al., 2016): averaged word and bigram
    # embeddings, padding masked, a linear output. Tuned on the eval split carved
    # from aclImdb/train; see README.md for the figures.
    "fasttext": HParams(
        vocab_size=100_000,
        sequence_length=400,
        ngram_size=2,
        # Exact counting of millions of distinct bigrams is most of Transform's time; the
        # benchmark runs both ways (issue 9: accuracy within 0.5 points of the exact path).
        approximate_vocabulary=True,
        mask_padding=True,
        embedding_dim=16,
        hidden_units=0,
        dropout=0.3,
        epochs=10,
        batch_size=256,
        learning_rate=0.01,
        learning_rate_schedule="cosine",
        early_stopping_patience=2,
    ),
}
DEFAULT_PRESET = "fasttext"

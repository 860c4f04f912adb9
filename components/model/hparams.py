"""Hyperparameters of preprocessing and training, and their named presets."""

import dataclasses
from typing import Any, Dict, Mapping, Optional

# Settings that change the Transform output. Only these reach the Transform
# component, so changing e.g. the epochs re-runs the Trainer but not Transform.
TRANSFORM_KEYS = ("vocab_size", "sequence_length", "num_oov_buckets", "ngram_size")
LEARNING_RATE_SCHEDULES = ("constant", "cosine")


class HParamsError(ValueError):
    """An invalid setting; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclasses.dataclass(frozen=True)
class HParams:
    """Settings of the text pipeline and the model.

    Attributes:
      vocab_size: Rows of the embedding table, counted as Keras' TextVectorization
        counts ``max_tokens``: the padding row, the OOV rows, then the
        ``vocab_size - 1 - num_oov_buckets`` most frequent tokens of the train split.
      sequence_length: Words kept per review; longer reviews are truncated,
        shorter ones padded with id 0.
      num_oov_buckets: Rows shared by tokens outside the vocabulary (hashed).
      ngram_size: 1 for words only; 2 adds the bigrams of the kept words
        ("very good") as tokens of their own, in the same vocabulary.
      mask_padding: Whether the average over a review ignores the padding.
      embedding_dim: Width of each token's embedding.
      hidden_units: Units of the hidden Dense layer; 0 for none (a linear classifier
        on the averaged embedding, as fastText).
      dropout: Dropout rate on the averaged embedding; 0 for none.
      epochs: Most passes over the train split.
      batch_size: Examples per training step.
      learning_rate: Adam's (initial) learning rate.
      learning_rate_schedule: "constant", or "cosine" decay to 0 over the epochs.
      early_stopping_patience: Epochs without a better eval accuracy before training
        stops and the best epoch's weights are kept; 0 trains every epoch.
      seed: Seed of weight initialisation and shuffling.
    """

    vocab_size: int = 10000
    sequence_length: int = 100
    num_oov_buckets: int = 1
    ngram_size: int = 1
    mask_padding: bool = False
    embedding_dim: int = 16
    hidden_units: int = 16
    dropout: float = 0.0
    epochs: int = 15
    batch_size: int = 1024
    learning_rate: float = 0.001
    learning_rate_schedule: str = "constant"
    early_stopping_patience: int = 0
    seed: int = 123

    def __post_init__(self):
        positive = ("vocab_size", "sequence_length", "num_oov_buckets", "embedding_dim", "epochs", "batch_size")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise HParamsError(name, f"{name} must be a positive integer, got {value!r}")
        for name in ("hidden_units", "early_stopping_patience", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise HParamsError(name, f"{name} must be a non-negative integer, got {value!r}")
        if self.ngram_size not in (1, 2):
            raise HParamsError("ngram_size", f"ngram_size must be 1 or 2, got {self.ngram_size!r}")
        if not 0 <= self.dropout < 1:
            raise HParamsError("dropout", f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
            raise HParamsError(
                "learning_rate_schedule",
                f"learning_rate_schedule must be one of {LEARNING_RATE_SCHEDULES}, got {self.learning_rate_schedule!r}",
            )
        if self.vocab_size < self.num_oov_buckets + 2:
            raise HParamsError(
                "vocab_size",
                f"vocab_size {self.vocab_size} leaves no room for tokens: it counts the padding row and "
                f"{self.num_oov_buckets} OOV row(s), so it must be at least {self.num_oov_buckets + 2}"
            )
        if not self.learning_rate > 0:
            raise HParamsError("learning_rate", f"learning_rate must be positive, got {self.learning_rate!r}")

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

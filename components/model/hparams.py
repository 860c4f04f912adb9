"""Hyperparameters of preprocessing and training, and their named presets."""

import dataclasses
from typing import Any, Dict, Mapping, Optional

# Settings that change the Transform output. Only these reach the Transform
# component, so changing e.g. the epochs re-runs the Trainer but not Transform.
TRANSFORM_KEYS = ("vocab_size", "sequence_length", "num_oov_buckets")


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
      sequence_length: Tokens kept per review; longer reviews are truncated,
        shorter ones padded with id 0.
      num_oov_buckets: Rows shared by tokens outside the vocabulary (hashed).
      embedding_dim: Width of each token's embedding.
      hidden_units: Units of the hidden Dense layer.
      epochs: Passes over the train split.
      batch_size: Examples per training step.
      learning_rate: Adam's learning rate.
      seed: Seed of weight initialisation and shuffling.
    """

    vocab_size: int = 10000
    sequence_length: int = 100
    num_oov_buckets: int = 1
    embedding_dim: int = 16
    hidden_units: int = 16
    epochs: int = 15
    batch_size: int = 1024
    learning_rate: float = 0.001
    seed: int = 123

    def __post_init__(self):
        positive = ("vocab_size", "sequence_length", "num_oov_buckets", "embedding_dim",
                    "hidden_units", "epochs", "batch_size")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise HParamsError(name, f"{name} must be a positive integer, got {value!r}")
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


# `tutorial` is exactly the seed tutorial's model and training settings.
PRESETS: Dict[str, HParams] = {
    "tutorial": HParams(),
}
DEFAULT_PRESET = "tutorial"

"""Helpers of the settings declarations (``HParams``, ``PipelineSettings``, ``Word2VecSettings``):
each setting is a dataclass field declared once with its default, its help text and its check.

Free of TensorFlow imports: the command line checks options with them before loading it.
"""

import dataclasses
from typing import Any, Sequence


class SettingError(ValueError):
    """An invalid setting; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def check_integers(settings: Any, names: Sequence[str], minimum: int) -> None:
    """Raises a SettingError naming the first of ``names`` that is not an integer of at least ``minimum`` (0 or 1)."""
    kind = "positive" if minimum == 1 else "non-negative"
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise SettingError(name, f"{name} must be a {kind} integer, got {value!r}")


def setting(default: Any, help_text: str) -> Any:
    """A field with its help text, which the command line shows for its option."""
    return dataclasses.field(default=default, metadata={"help": help_text})

"""Options several commands share, and the settings objects built from them.

Each setting's option comes from its declaration (``pipeline/definition/settings.py``,
``add_options``); a value that fails the declaration's check becomes a ``UsageError`` naming the
option and the fix.
"""

import argparse
import dataclasses
import re
from typing import Any, Optional, Sequence, Tuple, Type

from components.model.hparams import DEFAULT_PRESET, PRESETS, HParams
from components.setting import SettingError
from components.word2vec import Word2VecSettings
from pipeline.definition import settings as declared

DEFAULT_OUTPUT_DIR = "output"


class UsageError(Exception):
    """A bad option value; the message names it and the fix."""


def flag(name: str) -> str:
    """The command-line option of a setting: ``eval_percent`` -> ``--eval-percent``."""
    return "--" + name.replace("_", "-")


def _word_list(text: str) -> Tuple[str, ...]:
    return tuple(word.strip() for word in text.split(",") if word.strip())


def add_options(
    parser: argparse.ArgumentParser, declaration: Type, names: Optional[Sequence[str]] = None,
    default_text: Optional[str] = None,
) -> None:
    """Adds an option for each field of a settings dataclass, with its help text.

    Args:
      parser: Where the options go.
      declaration: ``HParams``, ``PipelineSettings`` or ``Word2VecSettings``.
      names: The fields to expose; all if None.
      default_text: Shown as the default instead of the field's (e.g. "the preset's").
        Options then default to None, so that ``from_args`` can tell what was given.
    """
    for field in dataclasses.fields(declaration):
        if names is not None and field.name not in names:
            continue
        shown = default_text or _shown_default(field.default)
        text = f"{field.metadata['help']} (default: {shown})"
        default = None if default_text else field.default
        if field.type is bool:
            # BooleanOptionalAction adds "(default: ...)" itself when there is a default.
            parser.add_argument(flag(field.name), action=argparse.BooleanOptionalAction, default=default,
                                help=text if default is None else field.metadata["help"])
        elif field.type in (int, float, str):
            parser.add_argument(flag(field.name), type=field.type, default=default, metavar=field.name.upper(),
                                help=text)
        elif field.type == Optional[str]:  # a path, none by default
            parser.add_argument(flag(field.name), type=str, default=default, metavar="PATH", help=text)
        else:  # a tuple of words
            parser.add_argument(flag(field.name), type=_word_list, default=default, metavar="WORD,...", help=text)


def _shown_default(value: Any) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)


def from_args(declaration: Type, args: argparse.Namespace, base: Optional[Any] = None) -> Any:
    """Builds a settings object from parsed options; options not given keep ``base``'s values.

    Raises:
      SettingError: If a value fails its check; ``field`` names it.
    """
    values = dataclasses.asdict(base) if base is not None else {}
    for field in dataclasses.fields(declaration):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = given
    return declaration(**values)


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """The preset and every declared setting, as options of a command that builds the pipeline."""
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET,
        help="named settings: 'tutorial' is exactly the seed tutorial's; 'fasttext' averages the embeddings of a "
        "review's distinct words, bigrams and trigrams (ragged ids, no padding), with dropout, a cosine schedule and "
        "early stopping; "
        "'word2vec' is fasttext with 64-wide rows started from the Word2Vec step's table (default: %(default)s)",
    )
    add_options(parser, HParams, default_text="the preset's")
    add_options(parser, declared.PipelineSettings)
    add_options(parser, Word2VecSettings)


def add_output_dir_option(parser: argparse.ArgumentParser, help_text: str = "output folder of `run`") -> None:
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR, help=f"{help_text} (default: %(default)s)")


def add_beam_args_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--beam-arg", action="append", default=[], metavar="ARG", help=f"{help_text} (repeatable)")


def settings_from_args(args: argparse.Namespace) -> Tuple[HParams, declared.PipelineSettings]:
    """``(HParams, PipelineSettings)``: the preset with every given option applied, and the gate settings.

    Raises:
      UsageError: Naming the option whose value fails its check.
    """
    return (_declared_from_args(HParams, args, base=PRESETS[args.preset]),
            _declared_from_args(declared.PipelineSettings, args))


def word2vec_from_args(args: argparse.Namespace, hparams: HParams) -> Word2VecSettings:
    """The Word2Vec settings given as options; on when ``hparams`` starts the classifier from its table.

    Raises:
      UsageError: Naming the option whose value fails its check.
    """
    word2vec = _declared_from_args(Word2VecSettings, args)
    try:
        return word2vec.for_model(hparams)
    except SettingError as err:
        option = flag(err.field)
        raise UsageError(f"invalid {option}: {err}. Fix: pass {option} {word2vec.word2vec_dim} "
                         f"or {flag('word2vec_dim')} {hparams.embedding_dim}.") from err


def beam_args_from(args: argparse.Namespace) -> Tuple[str, ...]:
    """The ``--beam-arg`` values, checked.

    Raises:
      UsageError: when they choose a runner that cannot run the Beam components.
    """
    try:
        return declared.check_beam_args(args.beam_arg)
    except SettingError as err:
        raise UsageError(f"invalid --beam-arg: {err}.") from err


def fix_for(option: str, err: Exception) -> str:
    """The fix of a failed check, from its rule ("epochs must be a positive integer, got -1" -> "pass --epochs a
    positive integer")."""
    rule = re.search(r" must (?:be )?(.+?), got ", str(err))
    return f"pass {option} {rule.group(1)}" if rule else f"pass {option} a valid value"


def _declared_from_args(declaration, args: argparse.Namespace, base=None):
    try:
        return from_args(declaration, args, base=base)
    except SettingError as err:
        option = flag(err.field)
        raise UsageError(f"invalid {option}: {err}. Fix: {fix_for(option, err)}.") from err

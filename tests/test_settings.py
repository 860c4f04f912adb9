"""Settings are declared once: every runner command offers each one, with its default and its check."""

import argparse
import dataclasses

import pytest

from components.model.hparams import PRESETS, HParams
from components.setting import SettingError
from components.word2vec import Word2VecSettings
from pipeline import cli
from pipeline.cli import options as cli_options
from pipeline.definition import settings


def _options(command):
    parser = cli.build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {option: action for action in subparsers.choices[command]._actions for option in action.option_strings}


@pytest.mark.parametrize("command", ["run", "compile"])
def test_every_declared_setting_is_an_option_with_its_help(command):
    options = _options(command)
    for declaration in (HParams, settings.PipelineSettings, Word2VecSettings):
        for field in dataclasses.fields(declaration):
            action = options[cli_options.flag(field.name)]
            assert action.help.startswith(field.metadata["help"])
    assert options["--eval-percent"].default == 20
    assert options["--accuracy-floor"].default == 0.75
    assert options["--epochs"].default is None  # the preset's, unless given


def test_options_override_the_preset_and_keep_the_rest():
    args = cli.build_parser().parse_args(["run", "--preset", "fasttext", "--epochs", "3", "--no-ragged-ids",
                                     "--probe-words", "good, bad", "--accuracy-floor", "0.6"])
    hparams, pipeline_settings = cli_options.settings_from_args(args)
    assert hparams == dataclasses.replace(PRESETS["fasttext"], epochs=3, ragged_ids=False)
    assert pipeline_settings == settings.PipelineSettings(probe_words=("good", "bad"), accuracy_floor=0.6)


@pytest.mark.parametrize(
    "options, message",
    [
        (["--accuracy-floor", "1.5"], "invalid --accuracy-floor: accuracy_floor must be between 0 and 1, got 1.5"),
        (["--label-balance-bound", "0.5"], "invalid --label-balance-bound"),
        (["--probe-words", ","], "invalid --probe-words"),
        (["--dropout", "1"], "invalid --dropout: dropout must be in [0, 1), got 1.0"),
        (["--keep-versions", "1"], "invalid --keep-versions: .* or at least 2, got 1"),
    ],
)
def test_a_bad_value_names_its_option(options, message):
    args = cli.build_parser().parse_args(["compile", "--image", "i", "--pipeline-root", "r", "--data-root", "d", *options])
    with pytest.raises(cli.UsageError, match=message.replace("[", r"\[").replace(")", r"\)")):
        cli_options.settings_from_args(args)


def test_settings_check_themselves_without_the_command_line():
    with pytest.raises(SettingError) as raised:
        settings.PipelineSettings(eval_percent=100)
    assert raised.value.field == "eval_percent"
    with pytest.raises(SettingError) as raised:
        HParams(vocab_size=300_000, approximate_vocabulary=True)
    assert raised.value.field == "approximate_vocabulary"
    assert "at most 200000 tokens" in str(raised.value)
    assert HParams(vocab_size=300_000).max_vocabulary_tokens == 299_998  # the exact vocabulary has no bound


@pytest.mark.parametrize("beam_args", [
    ["--runner=apache_beam.runners.dask.dask_runner.DaskRunner", "--dask_client_address=tcp://127.0.0.1:8786"],
    ["--runner", "DaskRunner"],
])
def test_a_runner_that_loses_output_is_refused(beam_args):
    args = cli.build_parser().parse_args(["run", *[f"--beam-arg={a}" for a in beam_args]])
    with pytest.raises(cli.UsageError, match=r"invalid --beam-arg: .*DaskRunner cannot run this pipeline: .*"
                       r"empty temporary folder.*Dataflow, Flink or Spark"):
        cli_options.beam_args_from(args)


def test_other_beam_arguments_pass_through():
    beam_args = ["--direct_running_mode=multi_processing", "--direct_num_workers=2", "--runner=DirectRunner"]
    assert settings.check_beam_args(beam_args) == tuple(beam_args)


def test_word2vec_options_build_its_settings(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("a\tb\t1.0\n")
    args = cli.build_parser().parse_args(["run", "--word2vec", "--word2vec-epochs", "2", "--word-pairs-file", str(pairs)])
    assert cli_options.word2vec_from_args(args, HParams()) == Word2VecSettings(word2vec=True, word2vec_epochs=2,
                                                            word_pairs_file=str(pairs))
    args = cli.build_parser().parse_args(["run", "--word2vec-window", "0"])
    with pytest.raises(cli.UsageError, match="invalid --word2vec-window: word2vec_window must be a positive integer"):
        cli_options.word2vec_from_args(args, HParams())


def test_starting_from_the_word2vec_table_switches_word2vec_on_and_needs_its_width():
    hparams = HParams(embedding_init="word2vec", embedding_dim=64)
    assert Word2VecSettings().for_model(hparams) == Word2VecSettings(word2vec=True)
    assert Word2VecSettings().for_model(HParams()) == Word2VecSettings()  # random rows: left as given
    with pytest.raises(SettingError, match=r"embedding_dim \(16\) must equal word2vec_dim \(64\)"):
        Word2VecSettings().for_model(HParams(embedding_init="word2vec"))
    with pytest.raises(SettingError, match="embedding_init must be one of"):
        HParams(embedding_init="glove")


def test_a_width_mismatch_names_both_options_and_both_fixes():
    args = cli.build_parser().parse_args(["run", "--embedding-init", "word2vec", "--embedding-dim", "32"])
    hparams, _ = cli_options.settings_from_args(args)
    with pytest.raises(cli.UsageError, match=r"invalid --embedding-dim: .* Fix: pass --embedding-dim 64 or "
                                             r"--word2vec-dim 32\."):
        cli_options.word2vec_from_args(args, hparams)


def test_the_word2vec_preset_fits_the_default_word2vec_step():
    assert Word2VecSettings().for_model(PRESETS["word2vec"]).word2vec
    assert dataclasses.replace(PRESETS["word2vec"], embedding_init="random", embedding_dim=16) == PRESETS["fasttext"]


def test_keep_runs_is_an_option_of_the_local_commands_only():
    args = cli.build_parser().parse_args(["retrain", "--data-dir", "d", "--keep-runs", "5", "--no-cache"])
    assert cli_options.from_args(settings.RetentionSettings, args) == settings.RetentionSettings(keep_runs=5)
    assert args.no_cache
    with pytest.raises(SettingError, match="keep_runs must be 0"):
        settings.RetentionSettings(keep_runs=-1)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["compile", "--image", "i", "--pipeline-root", "r", "--data-root", "d",
                                       "--keep-runs", "2"])

"""The benchmark: its pieces, and a smoke run of `python -m bench.run` on a small generated corpus."""

import json
import os

import pytest

from bench import run as bench
from tests import corpus


def test_subset_links_a_share_of_each_label(tmp_path):
    root = str(tmp_path / "aclImdb")
    corpus.write_corpus(root, train_per_label=10, test_per_label=4)
    assert bench.subset(root, 50, str(tmp_path / "half")) == 10
    assert os.path.samefile(tmp_path / "half" / "train" / "urls_pos.txt", os.path.join(root, "train", "urls_pos.txt"))
    for split, per_label in (("train", 5), ("test", 2)):
        for label in ("pos", "neg"):
            names = os.listdir(tmp_path / "half" / split / label)
            assert len(names) == per_label
            assert all(os.path.samefile(tmp_path / "half" / split / label / n, os.path.join(root, split, label, n))
                       for n in names)


def test_ratios_are_the_targets_figures():
    cases = [
        bench.Case("-", "tfx import", 15.0, 900),
        bench.Case("tutorial", "bare script", 30.0, 800),
        bench.Case("tutorial", "cold", 90.0, 2000, components={"Trainer": 24.0, "Transform": 10.0}),
        bench.Case("tutorial", "warm", 18.0, 1000),
        bench.Case("tutorial", "50% of reviews", 50.0, 1500),
        bench.Case("tutorial", "10% of reviews", 40.0, 1400, components={"Trainer": 4.0, "Transform": 7.5}),
        bench.Case("fasttext", "cold", 180.0, 4096, components={"Transform": 70.0}, eval_accuracy=0.905),
        bench.Case("fasttext", "cold, approximate vocabulary", 120.0, 3000, components={"Transform": 25.0},
                   eval_accuracy=0.90),
    ]
    assert bench.ratios(cases) == {
        "tutorial: cold pipeline / bare script": 3.0,
        "tutorial: Trainer / bare script": 0.8,
        "tutorial: warm run - tfx import (s)": 3.0,
        "tutorial: 100% / 50% of reviews": 1.8,
        # The smallest share is the run nearly without data; the rest is what the reviews add.
        "tutorial: 10% of reviews / bare script": pytest.approx(4 / 3),
        "tutorial: cold - 10% of reviews / bare script": pytest.approx(5 / 3),
        "tutorial: Trainer, cold - 10% of reviews (s)": 20.0,
        "tutorial: Transform, cold - 10% of reviews (s)": 2.5,
        "fasttext: cold pipeline / bare script": 6.0,
        "fasttext: cold, approximate vocabulary / cold": pytest.approx(2 / 3),
        "fasttext: cold, approximate vocabulary, accuracy - cold (points)": pytest.approx(-0.5),
        "fasttext Transform / tutorial Transform": 7.0,
        "fasttext Transform, approximate vocabulary / tutorial Transform": 2.5,
        "peak memory of any case (GiB)": 4.0,
    }


@pytest.mark.e2e
def test_benchmark_smoke_run(tmp_path, capsys):
    root = str(tmp_path / "aclImdb")
    corpus.write_corpus(root, train_per_label=60, test_per_label=None)
    small = ["--pipeline-arg=--vocab-size=200", "--pipeline-arg=--sequence-length=40", "--pipeline-arg=--epochs=2",
             "--pipeline-arg=--batch-size=32", "--bare-arg=--epochs=2"]
    # The full-data cases only: a share of the reviews is `subset`'s (tested above), and a lever case is one more
    # cold run with other options (its ratios tested above); this module is the longest of the suite.
    assert bench.main(["--data-dir", root, "--work-dir", str(tmp_path / "work"), "--presets", "tutorial",
                       "--fractions", "100", "--no-levers", *small]) == 0
    out = capsys.readouterr().out
    assert "tutorial  cold" in out and "tutorial: cold pipeline / bare script" in out
    with open(tmp_path / "work" / "benchmark.json") as f:
        result = json.load(f)
    cases = {(c["preset"], c["case"]): c for c in result["cases"]}
    assert set(cases) == {("-", "tfx import"), ("tutorial", "bare script"), ("tutorial", "cold"),
                          ("tutorial", "warm")}
    cold, warm = cases[("tutorial", "cold")], cases[("tutorial", "warm")]
    assert {"AclImdbExampleGen", "Transform", "Trainer", "Evaluator"} <= set(cold["executed"])
    assert "Trainer" not in warm["executed"] and warm["new_pushes"] == 0
    assert all(c["seconds"] > 0 and c["peak_mib"] > 100 for c in result["cases"])
    assert cold["eval_accuracy"] is not None


def test_the_default_and_the_bare_script_in_turn_give_the_median_ratio():
    cases = [
        bench.Case("-", "tfx import", 15.0, 900),
        bench.Case("tutorial", "bare script", 20.0, 800, process_peak_mib=700),
        bench.Case("fasttext", "cold", 100.0, 2000, process_peak_mib=1800),
        bench.Case("tutorial", "bare script, pair 2", 25.0, 800, process_peak_mib=700),
        bench.Case("fasttext", "cold, pair 2", 50.0, 2000, process_peak_mib=1700),
        bench.Case("tutorial", "bare script, pair 3", 20.0, 800, process_peak_mib=700),
        bench.Case("fasttext", "cold, pair 3", 80.0, 2000, process_peak_mib=2048),
    ]
    figures = bench.ratios(cases)
    # Ratios 5, 2 and 4: the median is 4; the largest process of the three cold runs, 2 GiB.
    assert figures["fasttext: cold / bare script, median of 3 pairs"] == 4.0
    assert figures["fasttext: largest process of its cold runs (GiB)"] == 2.0


def test_a_worker_process_counts_for_the_step_that_started_last_before_it():
    starts = {"AclImdbExampleGen": 100.0, "StatisticsGen": 130.0, "Transform": 150.0}
    children = [(101.0, 500.0), (102.0, 700.0), (131.0, 400.0), (151.0, 900.0), (99.0, 50.0)]
    # The child seen before any step started (the pipeline's own helper) counts for none.
    assert bench.worker_peaks_by_step(children, starts) == {"AclImdbExampleGen": 700.0, "StatisticsGen": 400.0,
                                                           "Transform": 900.0}

"""The benchmark: the seed tutorial's bare script against the pipeline, side by side, on one aclImdb folder.

For each preset: the pipeline cold (a fresh output folder), the same command again
(warm), and the pipeline on shares of the reviews (fresh folders); once: the bare
tutorial script and ``from tfx import v1`` (the floor of any command that imports
TFX). Each case runs as a child process, one after the other; its wall time, the
peak resident memory of its whole process tree (sampled), the pipeline's
per-component times (from ML Metadata) and the eval accuracy are printed as one
table and written as JSON.

    python -m bench.run --data-dir aclImdb [--presets tutorial,fasttext] [--fractions 25,50,100]
    make bench DATA_DIR=aclImdb
"""

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Levers, each measured against the default path (cold, fresh output folder).
# A lever on by default is shown off ("slow path"); one off by default is shown on.
TWO_BEAM_PROCESSES = ("--beam-arg=--direct_running_mode=multi_processing", "--beam-arg=--direct_num_workers=2")
LEVER_CASES = {
    "tutorial": {"cold, 2 Beam processes": TWO_BEAM_PROCESSES},
    "fasttext": {"cold, n-grams hashed into 2^20 rows": ("--ngram-buckets=1048576",),
                 "cold, approximate vocabulary": ("--approximate-vocabulary",),
                 "cold, padded ids": ("--no-ragged-ids", "--mask-padding"),
                 "cold, 2 Beam processes": TWO_BEAM_PROCESSES},
}
COMPONENT_COLUMNS = ("AclImdbExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator")


@dataclasses.dataclass
class Case:
    """One measured command."""

    preset: str
    case: str  # "bare script", "tfx import", "cold", "warm", "NN% of reviews"
    seconds: float
    peak_mib: float
    eval_accuracy: Optional[float] = None
    components: Dict[str, float] = dataclasses.field(default_factory=dict)  # node id -> seconds, executed ones
    executed: List[str] = dataclasses.field(default_factory=list)  # nodes that ran (not from the cache)
    new_pushes: Optional[int] = None
    reviews: Optional[int] = None


class _PeakMemory(threading.Thread):
    """Samples the summed resident memory of a process and all its descendants."""

    def __init__(self, pid: int, interval_s: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval_s, self.peak = pid, interval_s, 0
        self.done = threading.Event()

    def run(self):
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            try:
                total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            except psutil.Error:
                total = 0
            self.peak = max(self.peak, total)
            self.done.wait(self.interval_s)


def measure(command: List[str], log_path: str) -> tuple:
    """Runs a command; returns (seconds, peak MiB of its process tree, stdout)."""
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    started = time.monotonic()
    with open(log_path, "w") as log:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        sampler = _PeakMemory(child.pid)
        sampler.start()
        out, _ = child.communicate()
    seconds = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    from pipeline.records import status  # pylint: disable=import-outside-toplevel  # as the module's other imports

    # A run whose model was refused (5) or that warned of its data (6) ran to its end: its time counts.
    if child.returncode not in (0, status.EXIT_REFUSED, status.EXIT_DATA_WARNING):
        raise RuntimeError(f"{' '.join(command)} exited with {child.returncode}; see {log_path}")
    return seconds, sampler.peak / 2**20, out


def subset(data_dir: str, percent: int, target: str) -> int:
    """Links ``percent`` of each label's train (and test) reviews, chosen by a hash of the name, into ``target``.

    The URL lists come along, so the eval split is carved by movie as on the whole folder.
    """
    count = 0
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            source = os.path.join(data_dir, split, label)
            if not os.path.isdir(source):
                continue
            names = sorted(os.listdir(source), key=lambda n: hashlib.sha256(n.encode()).hexdigest())
            kept = names[: len(names) * percent // 100]
            os.makedirs(os.path.join(target, split, label), exist_ok=True)
            for name in kept:
                os.link(os.path.join(source, name), os.path.join(target, split, label, name))
            # File names are kept, so the URL lists still name each review's movie (line N: review N).
            url_list = os.path.join(data_dir, split, f"urls_{label}.txt")
            if os.path.isfile(url_list):
                os.link(url_list, os.path.join(target, split, f"urls_{label}.txt"))
            count += len(kept) if split == "train" else 0
    return count


def _pipeline_case(preset, case, data_dir, output_dir, pipeline_args, logs) -> Case:
    serving = os.path.join(output_dir, "serving_model")
    before = set(os.listdir(serving)) if os.path.isdir(serving) else set()
    command = [sys.executable, "pipeline.py", "run", "--data-dir", data_dir, "--output-dir", output_dir,
               "--preset", preset, "--quiet", *pipeline_args]
    seconds, peak, _ = measure(command, os.path.join(logs, f"{preset}-{case.replace('%', 'pct').replace(' ', '_')}.log"))
    after = set(os.listdir(serving)) if os.path.isdir(serving) else set()
    result = Case(preset, case, seconds, peak, new_pushes=len(after - before))
    _read_run(output_dir, result)
    return result


def _read_run(output_dir: str, result: Case) -> None:
    """Per-component times, what executed, and the eval accuracy of the latest run, from ML Metadata."""
    from components.model import TRAINING_SUMMARY_FILE
    from pipeline import layout
    from pipeline.definition import nodes
    from pipeline.definition.settings import PIPELINE_NAME
    from pipeline.records import metadata

    store = metadata.open_store(layout.output_paths(output_dir).metadata)
    run_id = metadata.latest_run_id(store, PIPELINE_NAME)
    for component in metadata.component_runs(store, PIPELINE_NAME, run_id):
        result.components[component.node_id] = component.seconds
        if component.state == nodes.RAN:
            result.executed.append(component.node_id)
        if component.node_id == nodes.TRAINER and component.output_uri(nodes.MODEL_RUN_OUTPUT):
            summary = metadata.read_artifact_json(os.path.join(component.output_uri(nodes.MODEL_RUN_OUTPUT),
                                                      TRAINING_SUMMARY_FILE))
            result.eval_accuracy = (summary or {}).get("eval_accuracy")


def run_benchmark(data_dir: str, work_dir: str, presets: List[str], fractions: List[int],
                  pipeline_args: List[str], bare_args: List[str], levers: bool = True) -> List[Case]:
    logs = os.path.join(work_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    cases = []
    seconds, peak, _ = measure([sys.executable, "-c", "from tfx import v1"], os.path.join(logs, "tfx-import.log"))
    cases.append(Case("-", "tfx import", seconds, peak))
    seconds, peak, out = measure([sys.executable, "-m", "bench.tutorial_script", "--data-dir", data_dir, *bare_args],
                                 os.path.join(logs, "bare-script.log"))
    bare = json.loads(out.strip().splitlines()[-1])
    cases.append(Case("tutorial", "bare script", seconds, peak, eval_accuracy=bare["eval_accuracy"],
                      components={"training (after imports)": bare["seconds"]}))
    for preset in presets:
        output = os.path.join(work_dir, f"out-{preset}-100")
        shutil.rmtree(output, ignore_errors=True)
        cases.append(_pipeline_case(preset, "cold", data_dir, output, pipeline_args, logs))
        cases.append(_pipeline_case(preset, "warm", data_dir, output, pipeline_args, logs))
        for case, lever_args in (LEVER_CASES.get(preset, {}) if levers else {}).items():
            output = os.path.join(work_dir, f"out-{preset}-lever")
            shutil.rmtree(output, ignore_errors=True)
            cases.append(_pipeline_case(preset, case, data_dir, output, [*pipeline_args, *lever_args], logs))
        for percent in sorted(f for f in fractions if f < 100):
            shared = os.path.join(work_dir, f"data-{percent}")
            shutil.rmtree(shared, ignore_errors=True)
            reviews = subset(data_dir, percent, shared)
            output = os.path.join(work_dir, f"out-{preset}-{percent}")
            shutil.rmtree(output, ignore_errors=True)
            case = _pipeline_case(preset, f"{percent}% of reviews", shared, output, pipeline_args, logs)
            case.reviews = reviews
            cases.append(case)
    return cases


def ratios(cases: List[Case]) -> Dict[str, float]:
    """The figures the targets are stated in."""
    by = {(c.preset, c.case): c for c in cases}
    bare = by[("tutorial", "bare script")]
    floor = by[("-", "tfx import")].seconds
    result = {}
    for preset in sorted({c.preset for c in cases} - {"-"}):
        cold, warm = by.get((preset, "cold")), by.get((preset, "warm"))
        if cold:
            result[f"{preset}: cold pipeline / bare script"] = cold.seconds / bare.seconds
            if "Trainer" in cold.components:
                result[f"{preset}: Trainer / bare script"] = cold.components["Trainer"] / bare.seconds
        if warm:
            result[f"{preset}: warm run - tfx import (s)"] = warm.seconds - floor
        for case in LEVER_CASES.get(preset, {}):
            lever = by.get((preset, case))
            if cold and lever:
                result[f"{preset}: {case} / cold"] = lever.seconds / cold.seconds
                if cold.eval_accuracy is not None and lever.eval_accuracy is not None:
                    result[f"{preset}: {case}, accuracy - cold (points)"] = 100 * (lever.eval_accuracy - cold.eval_accuracy)
        half = by.get((preset, "50% of reviews"))
        if cold and half:
            result[f"{preset}: 100% / 50% of reviews"] = cold.seconds / half.seconds
    tutorial, fasttext = by.get(("tutorial", "cold")), by.get(("fasttext", "cold"))
    if tutorial and fasttext and "Transform" in tutorial.components:
        result["fasttext Transform / tutorial Transform"] = fasttext.components["Transform"] / tutorial.components["Transform"]
    approximate = by.get(("fasttext", "cold, approximate vocabulary"))
    if tutorial and approximate and "Transform" in tutorial.components:
        result["fasttext Transform, approximate vocabulary / tutorial Transform"] = (
            approximate.components["Transform"] / tutorial.components["Transform"])
    result["peak memory of any case (GiB)"] = max(c.peak_mib for c in cases) / 1024
    return result


def format_table(cases: List[Case], figures: Dict[str, float]) -> str:
    header = (f"{'preset':<9} {'case':<24} {'wall s':>7} {'peak MiB':>8} {'eval acc':>8} "
              + " ".join(f"{name[:10]:>10}" for name in COMPONENT_COLUMNS) + "  executed / pushed")
    lines = [header, "-" * len(header)]
    for c in cases:
        accuracy = f"{c.eval_accuracy:.4f}" if c.eval_accuracy is not None else "-"
        columns = " ".join(f"{c.components[n]:>10.1f}" if n in c.components else f"{'-':>10}" for n in COMPONENT_COLUMNS)
        tail = f"  {len(c.executed)} ran / {c.new_pushes} pushed" if c.new_pushes is not None else ""
        lines.append(f"{c.preset:<9} {c.case:<24} {c.seconds:>7.1f} {c.peak_mib:>8.0f} {accuracy:>8} {columns}{tail}")
    lines.append("")
    lines.extend(f"{name:<60} {value:6.2f}" for name, value in figures.items())
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the pipeline against the Word embeddings tutorial as a "
                                     "bare script.")
    parser.add_argument("--data-dir", required=True, help="an aclImdb folder (holding train/)")
    parser.add_argument("--work-dir", default="bench-output", help="outputs, logs and subsets (default: %(default)s)")
    parser.add_argument("--presets", default="tutorial,fasttext", help="comma-separated (default: %(default)s)")
    parser.add_argument("--fractions", default="25,50,100", help="shares of the reviews, in percent (default: %(default)s)")
    parser.add_argument("--pipeline-arg", action="append", default=[], metavar="ARG",
                        help="extra option of `pipeline.py run`, e.g. --pipeline-arg=--epochs=5 (repeatable)")
    parser.add_argument("--bare-arg", action="append", default=[], metavar="ARG",
                        help="extra option of the bare script, e.g. --bare-arg=--epochs=5 (repeatable)")
    parser.add_argument("--levers", action=argparse.BooleanOptionalAction, default=True,
                        help="also run each preset's lever cases: " + "; ".join(
                            f"{preset}: {', '.join(cases)}" for preset, cases in LEVER_CASES.items())
                        + " (default: %(default)s)")
    parser.add_argument("--json", help="where to write the results (default: WORK_DIR/benchmark.json)")
    args = parser.parse_args(argv)
    from pipeline import data

    data_dir = data.check_dataset_dir(args.data_dir)
    work_dir = os.path.abspath(args.work_dir)
    cases = run_benchmark(data_dir, work_dir, [p for p in args.presets.split(",") if p],
                          [int(f) for f in args.fractions.split(",") if f], args.pipeline_arg, args.bare_arg,
                          levers=args.levers)
    figures = ratios(cases)
    print(format_table(cases, figures))
    path = args.json or os.path.join(work_dir, "benchmark.json")
    with open(path, "w") as f:
        json.dump({"data_dir": data_dir, "cpus": os.cpu_count(), "cases": [dataclasses.asdict(c) for c in cases],
                   "figures": figures}, f, indent=1)
    print(f"\nWritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

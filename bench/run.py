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
import itertools
import json
import os
import shutil
import statistics
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
                 "cold, LazyAdam": ("--lazy-adam",),
                 "cold, 2 Beam processes": TWO_BEAM_PROCESSES},
}
# The cases of the pairs after the first (the first: "bare script" and the default preset's "cold").
BARE_PAIR, COLD_PAIR = "bare script, pair {}", "cold, pair {}"
# The steps whose seconds the tables show, the benchmark's and the scaling runs'.
COMPONENT_COLUMNS = ("AclImdbExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator")
# The case of a cold run on a share of the train folder's reviews (`subset`), by percent.
SHARE_CASE = "{}% of reviews"


@dataclasses.dataclass
class Case:
    """One measured command."""

    preset: str
    case: str  # "bare script", "tfx import", "cold", "warm", SHARE_CASE
    seconds: float
    peak_mib: float
    eval_accuracy: Optional[float] = None
    components: Dict[str, float] = dataclasses.field(default_factory=dict)  # node id -> seconds, executed ones
    executed: List[str] = dataclasses.field(default_factory=list)  # nodes that ran (not from the cache)
    new_pushes: Optional[int] = None
    reviews: Optional[int] = None
    process_peak_mib: Optional[float] = None  # the largest single process of the tree


class _PeakMemory(threading.Thread):
    """Samples the resident memory of a process and all its descendants: the peak of their sum, and of each one."""

    def __init__(self, pid: int, interval_s: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval_s, self.peak = pid, interval_s, 0
        self.peak_by_pid: Dict[int, int] = {}
        self.first_seen: Dict[int, float] = {}  # pid -> time.time() when first sampled
        self.done = threading.Event()

    def run(self):
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            total = 0
            for process in [root, *self._children(root)]:
                try:
                    rss = process.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                self.peak_by_pid[process.pid] = max(self.peak_by_pid.get(process.pid, 0), rss)
                self.first_seen.setdefault(process.pid, time.time())
            self.peak = max(self.peak, total)
            self.done.wait(self.interval_s)

    @staticmethod
    def _children(root):
        try:
            return root.children(recursive=True)
        except psutil.Error:
            return []


@dataclasses.dataclass
class Measured:
    """A command's wall time, the peak of its process tree's memory, of its own process and of its largest child."""

    seconds: float
    peak_mib: float
    main_peak_mib: float
    largest_child_peak_mib: float
    out: str
    # (time first seen, peak MiB) of each child process, e.g. a Beam worker of one step
    children: List[tuple] = dataclasses.field(default_factory=list)


def measure(command: List[str], log_path: str) -> tuple:
    """Runs a command; returns (seconds, peak MiB of its process tree, stdout)."""
    measured = measure_processes(command, log_path)
    return measured.seconds, measured.peak_mib, measured.out


def measure_processes(command: List[str], log_path: str) -> Measured:
    """Runs a command; returns its wall time and memory peaks, and its stdout."""
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
    children = [(sampler.first_seen[pid], peak / 2**20) for pid, peak in sampler.peak_by_pid.items()
                if pid != child.pid]
    return Measured(seconds, sampler.peak / 2**20, sampler.peak_by_pid.get(child.pid, 0) / 2**20,
                    max((peak for _, peak in children), default=0), out, children)


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
    measured = measure_processes(command, os.path.join(logs, _log_name(preset, case)))
    after = set(os.listdir(serving)) if os.path.isdir(serving) else set()
    result = Case(preset, case, measured.seconds, measured.peak_mib, new_pushes=len(after - before),
                  process_peak_mib=max(measured.main_peak_mib, measured.largest_child_peak_mib))
    _read_run(output_dir, result)
    return result


def _latest_run(output_dir: str) -> list:
    """The component runs of the output folder's latest pipeline run, from ML Metadata."""
    from pipeline import layout
    from pipeline.definition.settings import PIPELINE_NAME
    from pipeline.records import metadata

    store = metadata.open_store(layout.output_paths(output_dir).metadata)
    return metadata.component_runs(store, PIPELINE_NAME, metadata.latest_run_id(store, PIPELINE_NAME))


def _training_summary(trainer) -> Dict:
    """The Trainer's training summary (eval accuracy, epochs run), or {}."""
    from components.model import TRAINING_SUMMARY_FILE
    from pipeline.definition import nodes
    from pipeline.records import metadata

    uri = trainer.output_uri(nodes.MODEL_RUN_OUTPUT)
    return (metadata.read_artifact_json(os.path.join(uri, TRAINING_SUMMARY_FILE)) if uri else None) or {}


def _read_run(output_dir: str, result: Case) -> None:
    """Per-component times, what executed, and the eval accuracy of the latest run, from ML Metadata."""
    from pipeline.definition import nodes

    for component in _latest_run(output_dir):
        result.components[component.node_id] = component.seconds
        if component.state == nodes.RAN:
            result.executed.append(component.node_id)
        if component.node_id == nodes.TRAINER and component.output_uri(nodes.MODEL_RUN_OUTPUT):
            result.eval_accuracy = _training_summary(component).get("eval_accuracy")


def _log_name(preset: str, case: str) -> str:
    return f"{preset}-{case.replace('%', 'pct').replace(' ', '_').replace(',', '')}.log"


def _bare_case(case: str, data_dir: str, bare_args: List[str], logs: str) -> Case:
    measured = measure_processes([sys.executable, "-m", "bench.tutorial_script", "--data-dir", data_dir, *bare_args],
                                 os.path.join(logs, _log_name("tutorial", case)))
    bare = json.loads(measured.out.strip().splitlines()[-1])
    return Case("tutorial", case, measured.seconds, measured.peak_mib, eval_accuracy=bare["eval_accuracy"],
                components={"training (after imports)": bare["seconds"]},
                process_peak_mib=max(measured.main_peak_mib, measured.largest_child_peak_mib))


def run_benchmark(data_dir: str, work_dir: str, presets: List[str], fractions: List[int],
                  pipeline_args: List[str], bare_args: List[str], levers: bool = True, pairs: int = 1) -> List[Case]:
    """The cases, one after the other. With ``pairs`` > 1, the default preset's cold run and the bare script run in
    turn that many times in all (``BARE_PAIR``/``COLD_PAIR`` cases after the first pair)."""
    from components.model.hparams import DEFAULT_PRESET  # pylint: disable=import-outside-toplevel

    logs = os.path.join(work_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    cases = []
    seconds, peak, _ = measure([sys.executable, "-c", "from tfx import v1"], os.path.join(logs, "tfx-import.log"))
    cases.append(Case("-", "tfx import", seconds, peak))
    cases.append(_bare_case("bare script", data_dir, bare_args, logs))
    for preset in presets:
        output = os.path.join(work_dir, f"out-{preset}-100")
        shutil.rmtree(output, ignore_errors=True)
        cases.append(_pipeline_case(preset, "cold", data_dir, output, pipeline_args, logs))
        cases.append(_pipeline_case(preset, "warm", data_dir, output, pipeline_args, logs))
        if preset == DEFAULT_PRESET:
            for pair in range(2, pairs + 1):
                cases.append(_bare_case(BARE_PAIR.format(pair), data_dir, bare_args, logs))
                output = os.path.join(work_dir, f"out-{preset}-pair")
                shutil.rmtree(output, ignore_errors=True)
                cases.append(_pipeline_case(preset, COLD_PAIR.format(pair), data_dir, output, pipeline_args, logs))
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
            case = _pipeline_case(preset, SHARE_CASE.format(percent), shared, output, pipeline_args, logs)
            case.reviews = reviews
            cases.append(case)
    return cases


# The scaling runs: DirectRunner's multi-process mode, a worker process per core.
SCALE_BEAM_ARGS = ("--beam-arg=--direct_running_mode=multi_processing",
                   f"--beam-arg=--direct_num_workers={os.cpu_count() or 1}")


@dataclasses.dataclass
class ScaleCase:
    """The default preset on a corpus of ``times`` the train split."""

    times: float
    reviews: int
    seconds: float
    peak_mib: float  # the whole process tree
    runner_peak_mib: float  # the pipeline's own process: DirectRunner holds its shuffles there
    worker_peak_mib: float  # the largest Beam worker process
    components: Dict[str, float] = dataclasses.field(default_factory=dict)
    vocabulary: Dict[str, int] = dataclasses.field(default_factory=dict)  # what the vocabulary's count held
    eval_accuracy: Optional[float] = None
    epochs_run: Optional[int] = None  # the Trainer's, with early stopping
    worker_peak_by_step: Dict[str, float] = dataclasses.field(default_factory=dict)  # step -> its largest worker


def worker_peaks_by_step(children: List[tuple], starts: Dict[str, float]) -> Dict[str, float]:
    """Each step's largest child process: a child belongs to the step that started last before it was first seen."""
    ordered = sorted(starts.items(), key=lambda item: item[1])
    peaks: Dict[str, float] = {}
    for seen, peak in children:
        owners = [step for step, started in ordered if started <= seen]
        if owners:
            peaks[owners[-1]] = max(peaks.get(owners[-1], 0.0), peak)
    return peaks


def scaled_corpus(data_dir: str, work_dir: str, times: float, seed: int = 0) -> str:
    """An aclImdb folder of ``times`` the train split (bench/scale_corpus.py), made once per size and seed.

    1x is the train folder's labelled reviews and URL lists, linked.
    """
    from bench import scale_corpus  # pylint: disable=import-outside-toplevel

    folder = os.path.join(work_dir, f"data-{times:g}x")
    marker = os.path.join(folder, ".complete")
    wanted = f"times={times:g} seed={seed} jump={scale_corpus.JUMP} new_word={scale_corpus.NEW_WORD}\n"
    if os.path.isfile(marker) and open(marker).read() == wanted:
        return os.path.join(folder, "aclImdb")
    shutil.rmtree(folder, ignore_errors=True)
    if times == 1:
        subset(data_dir, 100, os.path.join(folder, "aclImdb"))
    else:
        scale_corpus.write_corpus(data_dir, os.path.join(folder, "aclImdb"), times, seed)
    with open(marker, "w") as f:
        f.write(wanted)
    return os.path.join(folder, "aclImdb")


def run_scaling(data_dir: str, work_dir: str, factors: List[float], pipeline_args: List[str]) -> List[ScaleCase]:
    """The default preset, cold, on 1x, 4x, ... the train split, with a Beam worker process per core."""
    from components.model import features, token_counts
    from pipeline.definition import nodes
    import tensorflow_transform as tft

    logs = os.path.join(work_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    cases = []
    for times in factors:
        corpus = scaled_corpus(data_dir, work_dir, times)
        reviews = sum(len(os.listdir(os.path.join(corpus, "train", label))) for label in ("pos", "neg"))
        output = os.path.join(work_dir, f"out-scale-{times:g}x")
        shutil.rmtree(output, ignore_errors=True)
        command = [sys.executable, "pipeline.py", "run", "--data-dir", corpus, "--output-dir", output, "--quiet",
                   *SCALE_BEAM_ARGS, *pipeline_args]
        measured = measure_processes(command, os.path.join(logs, f"scale-{times:g}x.log"))
        case = ScaleCase(times, reviews, measured.seconds, measured.peak_mib, measured.main_peak_mib,
                         measured.largest_child_peak_mib)
        starts = {}
        for component in _latest_run(output):
            case.components[component.node_id] = component.seconds
            starts[component.node_id] = component.started
            if component.node_id == nodes.TRANSFORM:
                graph = tft.TFTransformOutput(component.output_uri(nodes.TRANSFORM_GRAPH_OUTPUT))
                case.vocabulary = token_counts.read_stats(graph.vocabulary_file_by_name(features.VOCABULARY_NAME))
            if component.node_id == nodes.TRAINER:
                summary = _training_summary(component)
                case.eval_accuracy, case.epochs_run = summary.get("eval_accuracy"), summary.get("epochs_run")
        case.worker_peak_by_step = worker_peaks_by_step(measured.children, starts)
        cases.append(case)
        print(format_scaling(cases[-1:], header=len(cases) == 1), flush=True)
        print("  largest Beam worker by step (MiB): " + ", ".join(
            f"{step} {peak:.0f}" for step, peak in case.worker_peak_by_step.items()), flush=True)
    return cases


def format_scaling(cases: List[ScaleCase], header: bool = True) -> str:
    lines = []
    if header:
        lines.append(f"{'size':>5} {'reviews':>8} {'wall s':>7} {'s/1k rev':>8} "
                     + " ".join(f"{name[:10]:>10}" for name in COMPONENT_COLUMNS)
                     + f" {'tree MiB':>8} {'runner':>7} {'worker':>7} {'largest':>8} {'distinct':>10}"
                     f" {'ranked':>7} {'eval acc':>8} {'epochs':>6}")
    for c in cases:
        steps = " ".join(f"{c.components[n]:>10.1f}" if n in c.components else f"{'-':>10}" for n in COMPONENT_COLUMNS)
        v = c.vocabulary
        accuracy = f"{c.eval_accuracy:.4f}" if c.eval_accuracy is not None else "-"
        lines.append(f"{c.times:>4g}x {c.reviews:>8} {c.seconds:>7.1f} {1000 * c.seconds / c.reviews:>8.2f} {steps}"
                     f" {c.peak_mib:>8.0f} {c.runner_peak_mib:>7.0f} {c.worker_peak_mib:>7.0f}"
                     f" {v.get('largest_part_tokens', 0):>8} {v.get('distinct_tokens', 0):>10}"
                     f" {v.get('candidates_ranked', 0):>7} {accuracy:>8} {c.epochs_run or '-':>6}")
    return "\n".join(lines)


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
        half = by.get((preset, SHARE_CASE.format(50)))
        if cold and half:
            result[f"{preset}: 100% / 50% of reviews"] = cold.seconds / half.seconds
        if cold:
            result.update(_fixed_and_growing(preset, cold, bare, by))
    from components.model.hparams import DEFAULT_PRESET  # pylint: disable=import-outside-toplevel

    colds = [by[(DEFAULT_PRESET, "cold")]] if (DEFAULT_PRESET, "cold") in by else []
    bares = [bare]
    for pair in itertools.count(2):
        if (DEFAULT_PRESET, COLD_PAIR.format(pair)) not in by or ("tutorial", BARE_PAIR.format(pair)) not in by:
            break
        colds.append(by[(DEFAULT_PRESET, COLD_PAIR.format(pair))])
        bares.append(by[("tutorial", BARE_PAIR.format(pair))])
    if len(colds) > 1:
        result[f"{DEFAULT_PRESET}: cold / bare script, median of {len(colds)} pairs"] = statistics.median(
            c.seconds / b.seconds for c, b in zip(colds, bares))
        result[f"{DEFAULT_PRESET}: largest process of its cold runs (GiB)"] = max(
            c.process_peak_mib or 0 for c in colds) / 1024
    tutorial, fasttext = by.get(("tutorial", "cold")), by.get(("fasttext", "cold"))
    if tutorial and fasttext and "Transform" in tutorial.components:
        result["fasttext Transform / tutorial Transform"] = fasttext.components["Transform"] / tutorial.components["Transform"]
    approximate = by.get(("fasttext", "cold, approximate vocabulary"))
    if tutorial and approximate and "Transform" in tutorial.components:
        result["fasttext Transform, approximate vocabulary / tutorial Transform"] = (
            approximate.components["Transform"] / tutorial.components["Transform"])
    result["peak memory of any case (GiB)"] = max(c.peak_mib for c in cases) / 1024
    return result


def _fixed_and_growing(preset: str, cold: Case, bare: Case, by: Dict[tuple, Case]) -> Dict[str, float]:
    """What a cold run costs nearly without data (its smallest share of the reviews), and what the rest of the
    reviews add to it and to each step: how far the ratio to the bare script could fall if a step cost nothing per
    review. Against the first bare script; {} without a share of the reviews below 100%."""
    smallest = next((by[(preset, SHARE_CASE.format(p))] for p in range(1, 100) if (preset, SHARE_CASE.format(p)) in by),
                    None)
    if smallest is None:
        return {}
    share = smallest.case
    figures = {f"{preset}: {share} / bare script": smallest.seconds / bare.seconds,
               f"{preset}: cold - {share} / bare script": (cold.seconds - smallest.seconds) / bare.seconds}
    for step in COMPONENT_COLUMNS:
        if step in cold.components and step in smallest.components:
            figures[f"{preset}: {step}, cold - {share} (s)"] = cold.components[step] - smallest.components[step]
    return figures


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
    parser.add_argument("--pairs", type=int, default=3,
                        help="run the default preset cold and the bare script in turn this many times and print the "
                        "median ratio (default: %(default)s)")
    parser.add_argument("--levers", action=argparse.BooleanOptionalAction, default=True,
                        help="also run each preset's lever cases: " + "; ".join(
                            f"{preset}: {', '.join(cases)}" for preset, cases in LEVER_CASES.items())
                        + " (default: %(default)s)")
    parser.add_argument("--scale", metavar="SIZES",
                        help="instead: the default preset on corpora of these sizes against the train split, e.g. "
                        "1,4,10 (bench/scale_corpus.py generates the larger ones into WORK_DIR once), with a Beam "
                        "worker process per core; prints wall time, each step's seconds, peak memory of the pipeline's "
                        "process and of the largest Beam worker, and what the vocabulary's count held")
    parser.add_argument("--json", help="where to write the results (default: WORK_DIR/benchmark.json)")
    args = parser.parse_args(argv)
    from pipeline import data

    data_dir = data.check_dataset_dir(args.data_dir)
    work_dir = os.path.abspath(args.work_dir)
    if args.scale:
        scaled = run_scaling(data_dir, work_dir, [float(f) for f in args.scale.split(",") if f], args.pipeline_arg)
        path = args.json or os.path.join(work_dir, "scaling.json")
        with open(path, "w") as f:
            json.dump({"data_dir": data_dir, "cpus": os.cpu_count(), "beam_args": list(SCALE_BEAM_ARGS),
                       "cases": [dataclasses.asdict(c) for c in scaled]}, f, indent=1)
        print(f"\nWritten: {path}")
        return 0
    cases = run_benchmark(data_dir, work_dir, [p for p in args.presets.split(",") if p],
                          [int(f) for f in args.fractions.split(",") if f], args.pipeline_arg, args.bare_arg,
                          levers=args.levers, pairs=args.pairs)
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

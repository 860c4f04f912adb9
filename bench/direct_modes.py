"""Does the DirectRunner keep every element in its parallel modes? A plain Beam count, run in each mode.

The pipeline (no TFX, no TensorFlow) has the shape of the vocabulary's count: batches are
reshuffled, each is turned into one (part, {token: count}) dictionary per part of the token
space, the dictionaries are grouped by part and each part's counts summed into one dictionary.
Every batch's occurrences are also summed apart from the grouping. For each mode and run it prints
the occurrences that reached the sum after the grouping against those the batches held: first with
Beam as it ships, then with the pipeline's fix (``pipeline/runners/direct_runner.py``).

    python -m bench.direct_modes [--modes in_memory,multi_threading,multi_processing] [--runs 4] [--fix both]

Run it again after changing the pinned Beam: if no run loses elements without the fix, the fix can go.
"""

import argparse
import collections
import json
import os
import random
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.runners import direct_runner

MODES = ("in_memory", "multi_threading", "multi_processing")


def part_dictionaries(batch: int, tokens: int, parts: int) -> List[Tuple[int, Dict[bytes, int]]]:
    """A batch's ``tokens`` occurrences (drawn from 2 million tokens, seeded by the batch) as one dictionary per part."""
    draw = random.Random(batch)
    dictionaries: Dict[int, Dict[bytes, int]] = collections.defaultdict(dict)
    for _ in range(tokens):
        token = draw.randrange(2_000_000)
        counts = dictionaries[token % parts]
        key = b"token%d" % token
        counts[key] = counts.get(key, 0) + 1
    return list(dictionaries.items())


def count_once(mode: str, workers: int, batches: int, tokens: int, parts: int) -> Tuple[int, int]:
    """One run: (occurrences summed after the grouping, occurrences the batches held)."""
    options = PipelineOptions([f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"])
    with tempfile.TemporaryDirectory() as folder:
        # Through a file: in multi_processing mode the last step runs in a worker process.
        result = os.path.join(folder, "sums.json")
        with beam.Pipeline(options=options) as pipeline:
            dictionaries = (pipeline
                            | beam.Create(list(range(batches)))
                            | beam.Reshuffle()
                            | beam.FlatMap(part_dictionaries, tokens, parts))
            held = (dictionaries
                    | "Held" >> beam.Map(lambda part: sum(part[1].values()))
                    | "SumHeld" >> beam.CombineGlobally(sum))
            grouped = (dictionaries
                       | beam.GroupByKey()
                       | "Grouped" >> beam.MapTuple(sum_part)
                       | "SumGrouped" >> beam.CombineGlobally(sum))
            _ = grouped | beam.Map(write_sums, beam.pvalue.AsSingleton(held), result)
        with open(result) as f:
            sums = json.load(f)
    return sums["grouped"], sums["held"]


def sum_part(part: int, dictionaries) -> int:
    """A part's occurrences, summed token by token into one dictionary as the vocabulary's count sums them."""
    total: Dict[bytes, int] = {}
    for counts in dictionaries:
        for token, count in counts.items():
            total[token] = total.get(token, 0) + count
    return sum(total.values())


def write_sums(grouped: int, held: int, path: str) -> None:
    with open(path, "w") as f:
        json.dump({"grouped": grouped, "held": held}, f)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--workers", type=int, default=2, help="--direct_num_workers of the parallel modes (default: 2)")
    parser.add_argument("--runs", type=int, default=4, help="runs per mode and fix (default: 4)")
    parser.add_argument("--fix", choices=("off", "on", "both"), default="both",
                        help="run Beam as it ships (off), with the pipeline's fix (on), or off then on (default)")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--tokens", type=int, default=200_000, help="occurrences per batch")
    parser.add_argument("--parts", type=int, default=4096)
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; choose from {', '.join(MODES)}")
    print(f"apache-beam {beam.__version__}, {args.workers} workers, {args.batches} batches of {args.tokens:,} "
          f"occurrences into {args.parts:,} parts")
    print(f"{'fix':<5}{'mode':<17}{'run':>4}{'held':>12}{'grouped':>12}{'lost':>9}{'s':>7}")
    lossy = collections.Counter()
    # The fix cannot be taken back within a process: the runs without it come first.
    for fix in {"off": ["off"], "on": ["on"], "both": ["off", "on"]}[args.fix]:
        if fix == "on":
            direct_runner.keep_every_element()
        for mode in modes:
            for run in range(1, args.runs + 1):
                start = time.monotonic()
                # in_memory is the one-process baseline: it runs one worker whatever --direct_num_workers says.
                workers = 1 if mode == "in_memory" else args.workers
                grouped, held = count_once(mode, workers, args.batches, args.tokens, args.parts)
                lossy[fix] += grouped != held
                print(f"{fix:<5}{mode:<17}{run:>4}{held:>12,}{grouped:>12,}{held - grouped:>9,}"
                      f"{time.monotonic() - start:>7.1f}", flush=True)
        print(f"fix {fix}: {lossy[fix]} run(s) lost elements")
    return 1 if lossy["on"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""The vocabulary's exact count: tf.Transform's ``tft.vocabulary`` file, with the counts merged as dictionaries.

``tft.vocabulary`` counts each batch in the graph, then hands Beam one (token, count) element
per distinct token of every batch to sum with ``CombinePerKey``, and ranks the sums with more
per-element stages. Beam's Python runners pay microseconds per element: with the words,
bigrams and trigrams of the IMDB train split (4.3 million distinct tokens, 6.6 million
(token, batch) pairs) that was most of the default's Transform.

``top_tokens`` writes the same file (the ``top_k`` most frequent tokens, most frequent
first, ties in descending byte order as ``tft.vocabulary`` breaks them) with few Beam
elements, and with every worker's state bounded however large the corpus:

1. Each worker sums the batches of a bundle into dictionaries, one per *part* of the token
   space (``PARTS``, by a fingerprint of the token computed in the graph), and hands them on
   whenever they hold ``BUNDLE_TOKENS`` tokens: its memory is bounded by that, not by the data.
2. The dictionaries are grouped by part, then summed: a part's sums are one dictionary on one
   worker, a 4,096th of the distinct tokens, and a distributed runner (Dataflow, Flink, Spark)
   sums on up to ``PARTS`` workers. No worker sums a whole bundle's parts before the shuffle, as
   a ``CombinePerKey`` would.
3. A histogram of the sums gives the least count a kept token has; only tokens counted that
   often (the ``top_k`` and their ties) are ranked, in one global combine of their size.

What the count held is written beside the vocabulary (``STATS_SUFFIX``): the parts, the
distinct tokens in all and in the largest part, the candidates ranked, the token occurrences.

The parts are the keys of the grouping as they are. Before the files are written, the counts that
reached the ranking are checked against those the batches held (``check_counted``), so that a runner
that loses elements fails the step instead of writing a wrong vocabulary: Beam 2.74's DirectRunner did,
in its parallel modes, until the runners turned its timed flushes off (``pipeline/runners/direct_runner.py``,
docs/scaling.md).
"""

import collections
import itertools
import json
import os
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.transforms import window
from tensorflow_transform import analyzers as tft_analyzers

# Parts of the token space, by the token's fingerprint, and the keys of the grouping: a part holds a
# 4,096th of the distinct tokens (about 1,000 for aclImdb's train split, 262,144 at a billion, about
# 250 times that split, where its dictionary is about 30 MB of short byte strings).
PARTS = 4096
# The (token, count) entries a worker sums before it hands its dictionaries on.
BUNDLE_TOKENS = 1 << 20
# The file beside the vocabulary that says what the count held.
STATS_SUFFIX = ".stats.json"
# What tft.vocabulary writes when no token was seen (a lookup table cannot start from an empty
# file), taken from tf.Transform so the two stay the same.
EMPTY_VOCABULARY_TOKEN = tft_analyzers.get_empy_vocabulary_dummy_value(tf.string)[1]

CountedToken = Tuple[int, bytes]
PartCounts = Tuple[int, Dict[bytes, int]]


class CountPerBundle(beam.DoFn):
    """Batches of (distinct tokens, counts, parts) to (part, {token: count}) sums, at most ``limit`` tokens held."""

    def __init__(self, limit: Optional[int] = None):
        self.limit = limit or BUNDLE_TOKENS

    def start_bundle(self):
        self._parts: Dict[int, Dict[bytes, int]] = collections.defaultdict(dict)
        self._held = 0

    def process(self, batch: Sequence[np.ndarray]) -> Iterator[PartCounts]:
        tokens, counts, parts = batch
        order = np.argsort(parts, kind="stable")
        ordered_parts = parts[order]
        present, starts = np.unique(ordered_parts, return_index=True)
        ends = np.append(starts[1:], len(order))
        tokens, counts = tokens[order].tolist(), counts[order].tolist()
        for part, start, end in zip(present.tolist(), starts.tolist(), ends.tolist()):
            total = self._parts[part]
            before = len(total)
            get = total.get
            for token, count in zip(tokens[start:end], counts[start:end]):
                total[token] = get(token, 0) + count
            self._held += len(total) - before
        if self._held >= self.limit:
            yield from self._flush()

    def finish_bundle(self):
        for part_counts in self._flush():
            yield window.GlobalWindows.windowed_value(part_counts)

    def _flush(self) -> Iterator[PartCounts]:
        parts, self._parts, self._held = self._parts, collections.defaultdict(dict), 0
        yield from parts.items()


def sum_dictionaries(dictionaries: Iterable[Dict[bytes, int]]) -> Dict[bytes, int]:
    """Sums {token: count} dictionaries (into a copy of the first: Beam's inputs are not to be changed)."""
    total: Optional[Dict[bytes, int]] = None
    for counts in dictionaries:
        if total is None:
            total = dict(counts)
            continue
        get = total.get
        for token, count in counts.items():
            total[token] = get(token, 0) + count
    return total or {}


def count_histogram(part_and_counts: PartCounts) -> Dict[int, int]:
    """How many of a part's tokens have each count."""
    return collections.Counter(part_and_counts[1].values())


class SumHistograms(beam.CombineFn):
    """Adds {count: tokens} histograms."""

    def create_accumulator(self) -> collections.Counter:
        return collections.Counter()

    def add_input(self, total: collections.Counter, histogram: Dict[int, int]) -> collections.Counter:
        total.update(histogram)
        return total

    def merge_accumulators(self, totals) -> collections.Counter:
        merged = collections.Counter()
        for total in totals:
            merged.update(total)
        return merged

    def extract_output(self, total: collections.Counter) -> Dict[int, int]:
        return dict(total)


def least_kept_count(histogram: Dict[int, int], top_k: int) -> int:
    """The count of the ``top_k``-th most frequent token (1 when there are fewer tokens): the least count kept."""
    tokens = 0
    for count in sorted(histogram, reverse=True):
        tokens += histogram[count]
        if tokens >= top_k:
            return count
    return 1


def candidates(part_and_counts: PartCounts, least_count: int) -> List[CountedToken]:
    """A part's (count, token) pairs that can be among the most frequent: those counted at least ``least_count``."""
    return [(count, token) for token, count in part_and_counts[1].items() if count >= least_count]


class MostFrequent(beam.CombineFn):
    """The parts' candidates to the vocabulary file's contents: the ``top_k`` most frequent tokens, a line each.

    Most frequent first, ties in descending byte order, as ``tft.vocabulary``. The output is one
    ``bytes``: Beam hands a global combine's result on as a side input, and its state cache
    measures a side input object by object.
    """

    def __init__(self, top_k: int):
        self.top_k = top_k

    def create_accumulator(self) -> List[CountedToken]:
        return []

    def add_input(self, pairs: List[CountedToken], part_pairs: List[CountedToken]) -> List[CountedToken]:
        pairs.extend(part_pairs)
        return pairs

    def merge_accumulators(self, accumulators) -> List[CountedToken]:
        return list(itertools.chain.from_iterable(accumulators))

    def extract_output(self, pairs: List[CountedToken]) -> Tuple[bytes, int]:
        return b"".join(token + b"\n" for _, token in sorted(pairs, reverse=True)[:self.top_k]), len(pairs)


class PartSizes(beam.CombineFn):
    """The parts' sizes (distinct tokens) to their sum and the largest."""

    def create_accumulator(self) -> Tuple[int, int]:
        return 0, 0

    def add_input(self, held: Tuple[int, int], size: int) -> Tuple[int, int]:
        return held[0] + size, max(held[1], size)

    def merge_accumulators(self, accumulators) -> Tuple[int, int]:
        distinct, largest = 0, 0
        for part_distinct, part_largest in accumulators:
            distinct, largest = distinct + part_distinct, max(largest, part_largest)
        return distinct, largest

    def extract_output(self, held: Tuple[int, int]) -> Tuple[int, int]:
        return held


class LostCountsError(RuntimeError):
    """The runner handed the ranking fewer counts than the batches counted; the message says how many."""


def check_counted(histogram: Dict[int, int], least_count: int, candidates_ranked: int, occurrences: int) -> None:
    """Raises ``LostCountsError`` unless every occurrence reached the summed counts and every token counted at
    least ``least_count`` times reached the ranking.

    Beam promises both; the check is there because a runner broke the promise (Beam 2.74's DirectRunner
    with several workers, before ``pipeline/runners/direct_runner.py``) and the vocabulary came out wrong.
    """
    summed = sum(count * tokens for count, tokens in histogram.items())
    expected_candidates = sum(tokens for count, tokens in histogram.items() if count >= least_count)
    if summed != occurrences or candidates_ranked != expected_candidates:
        raise LostCountsError(
            f"The vocabulary's count lost part of its input on this Beam runner: {summed:,} of {occurrences:,} "
            f"token occurrences were summed and {candidates_ranked:,} of {expected_candidates:,} candidate tokens "
            "ranked. Nothing was written. Fix: run again; if it recurs, run the DirectRunner in one process "
            "(no --direct_running_mode=multi_processing) and report the runner and its version.")


def count_stats(most_frequent: Tuple[bytes, int], sizes: Tuple[int, int], histogram: Dict[int, int],
                least_count: int, occurrences: int) -> Dict[str, int]:
    """What the count held, for the file beside the vocabulary, once ``check_counted`` holds."""
    check_counted(histogram, least_count, most_frequent[1], occurrences)
    return {"parts": PARTS, "distinct_tokens": sizes[0], "largest_part_tokens": sizes[1],
            "candidates_ranked": most_frequent[1], "token_occurrences": occurrences}


def write_vocabulary(contents: bytes, path: str, stats: Dict[str, int]) -> None:
    """Writes the vocabulary file (or tft.vocabulary's placeholder token if no token was seen), and its stats beside it."""
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "wb") as vocabulary:
        vocabulary.write(contents or EMPTY_VOCABULARY_TOKEN + b"\n")
    with tf.io.gfile.GFile(path + STATS_SUFFIX, "w") as f:
        json.dump(stats, f, indent=1, sort_keys=True)


def read_stats(vocabulary_path: str) -> Dict[str, int]:
    """What the count of the vocabulary at ``vocabulary_path`` held (``write_vocabulary``'s stats), or {} if none."""
    path = vocabulary_path + STATS_SUFFIX
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


class CountTopTokens(tft_beam.experimental.PTransformAnalyzer):
    """Batches of (distinct tokens, counts, parts) to the paths of the vocabulary file it writes and of its stats."""

    def __init__(self, top_k: int, vocab_filename: str):
        super().__init__()
        self.top_k, self.vocab_filename = top_k, vocab_filename

    def expand(self, batches):
        top_k, path = self.top_k, os.path.join(self.base_temp_dir, self.vocab_filename)
        # Grouped, then summed: a CombinePerKey would sum again on each worker before the shuffle,
        # over its whole bundle, which is what CountPerBundle bounds.
        counts = (batches
                  | "CountPerBundle" >> beam.ParDo(CountPerBundle())
                  | "GroupByPart" >> beam.GroupByKey()
                  | "SumPerPart" >> beam.MapTuple(lambda part, dictionaries: (part, sum_dictionaries(dictionaries))))
        histogram = (counts
                     | "Histogram" >> beam.Map(count_histogram)
                     | "SumHistograms" >> beam.CombineGlobally(SumHistograms()))
        least_count = histogram | "LeastKeptCount" >> beam.Map(least_kept_count, top_k)
        kept = (counts
                | "Candidates" >> beam.Map(candidates, beam.pvalue.AsSingleton(least_count))
                | "MostFrequent" >> beam.CombineGlobally(MostFrequent(top_k)))
        sizes = (counts
                 | "PartSize" >> beam.Map(lambda part: len(part[1]))
                 | "PartSizes" >> beam.CombineGlobally(PartSizes()))
        # Every occurrence the batches counted, summed apart from the grouping: what reaches the
        # ranking is checked against it (check_counted).
        occurrences = (batches
                       | "Occurrences" >> beam.Map(lambda batch: int(np.sum(batch[1])))
                       | "SumOccurrences" >> beam.CombineGlobally(sum))
        stats = kept | "Stats" >> beam.Map(
            count_stats, beam.pvalue.AsSingleton(sizes), beam.pvalue.AsSingleton(histogram),
            beam.pvalue.AsSingleton(least_count), beam.pvalue.AsSingleton(occurrences))
        # Two asset files: the vocabulary, and what its count held (an asset too, so that it is
        # kept with the transform graph).
        written = kept | "Write" >> beam.Map(
            lambda most_frequent, stats: write_vocabulary(most_frequent[0], path, stats), beam.pvalue.AsSingleton(stats))
        return (written | "Path" >> beam.Map(lambda _: np.array(path.encode("utf-8"))),
                written | "StatsPath" >> beam.Map(lambda _: np.array((path + STATS_SUFFIX).encode("utf-8"))))


def top_tokens(tokens: tf.Tensor, top_k: int, vocab_filename: str) -> tf.Tensor:
    """The vocabulary of the ``top_k`` most frequent of ``tokens`` over the dataset, as ``tft.vocabulary`` writes it.

    Args:
      tokens: A 1-D string tensor of a batch's tokens, each occurrence once.
      top_k: How many of the most frequent tokens to keep.
      vocab_filename: The file's name under the transform graph's assets, by which
        ``TFTransformOutput.vocabulary_file_by_name`` finds it.

    Returns:
      The vocabulary file's path, for ``tft.apply_vocabulary``.
    """
    distinct, _, counts = tf.unique_with_counts(tokens, out_idx=tf.int64)
    parts = tf.strings.to_hash_bucket_fast(distinct, PARTS)
    path, _ = tft.experimental.ptransform_analyzer(
        [distinct, counts, parts], CountTopTokens(top_k, vocab_filename), output_dtypes=[tf.string, tf.string],
        output_shapes=[[], []], output_asset_default_values=[EMPTY_VOCABULARY_TOKEN, b"{}"], name="top_tokens")
    tft.annotate_asset(vocab_filename, vocab_filename)
    return path


def vocabulary_size(path: tf.Tensor) -> tf.Tensor:
    """The number of lines of the vocabulary file at ``path``, as an int64 scalar in the graph."""
    lines = tf.lookup.TextFileInitializer(path, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                          tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
    return tf.lookup.StaticHashTable(lines, default_value=-1).size()

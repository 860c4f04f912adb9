"""The vocabulary's exact count: tf.Transform's ``tft.vocabulary`` file, with the counts merged as dictionaries.

``tft.vocabulary`` counts each batch in the graph, then hands Beam one (token, count) element
per distinct token of every batch to sum with ``CombinePerKey``, and ranks the sums with more
per-element stages. Beam's Python runners pay microseconds per element: with the words,
bigrams and trigrams of the IMDB train split (4.3 million distinct tokens, 6.6 million
(token, batch) pairs) that was most of the default's Transform.

``top_tokens`` writes the same file (the ``top_k`` most frequent tokens, most frequent
first, ties in descending byte order as ``tft.vocabulary`` breaks them) with few Beam
elements: a batch's counts for each of ``TOKEN_SHARDS`` shards of the tokens are one
dictionary, the sums are dictionary updates, a histogram of the sums gives the least count a
kept token has, and only tokens counted that often are ranked. The shards still let a
distributed runner (Dataflow, Flink, Spark) sum on many workers.
"""

import collections
import itertools
import os
from typing import Dict, Iterator, List, Sequence, Tuple

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform import analyzers as tft_analyzers

# Shards of the token space; the sums of each are merged on their own (a worker each on a
# distributed runner).
TOKEN_SHARDS = 16
# What tft.vocabulary writes when no token was seen (a lookup table cannot start from an empty
# file), taken from tf.Transform so the two stay the same.
EMPTY_VOCABULARY_TOKEN = tft_analyzers.get_empy_vocabulary_dummy_value(tf.string)[1]

CountedToken = Tuple[int, bytes]


def shard_counts(batch: Sequence[np.ndarray]) -> Iterator[Tuple[int, Dict[bytes, int]]]:
    """A batch's (shard, {token: count}) pairs from its distinct tokens, their counts and shards."""
    tokens, counts, shards = batch
    order = np.argsort(shards, kind="stable")
    bounds = np.searchsorted(shards[order], np.arange(TOKEN_SHARDS + 1))
    for shard in range(TOKEN_SHARDS):
        rows = order[bounds[shard]:bounds[shard + 1]]
        if len(rows):
            yield shard, dict(zip(tokens[rows].tolist(), counts[rows].tolist()))


class SumCounts(beam.CombineFn):
    """Sums {token: count} dictionaries."""

    def create_accumulator(self) -> Dict[bytes, int]:
        return {}

    def add_input(self, total: Dict[bytes, int], counts: Dict[bytes, int]) -> Dict[bytes, int]:
        get = total.get
        for token, count in counts.items():
            total[token] = get(token, 0) + count
        return total

    def merge_accumulators(self, accumulators) -> Dict[bytes, int]:
        accumulators = sorted(accumulators, key=len, reverse=True)
        total = accumulators[0] if accumulators else {}
        for counts in accumulators[1:]:
            self.add_input(total, counts)
        return total

    def extract_output(self, total: Dict[bytes, int]) -> Dict[bytes, int]:
        return total


def count_histogram(shard_and_counts: Tuple[int, Dict[bytes, int]]) -> Dict[int, int]:
    """How many of a shard's tokens have each count."""
    return collections.Counter(shard_and_counts[1].values())


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


def candidates(shard_and_counts: Tuple[int, Dict[bytes, int]], least_count: int) -> List[CountedToken]:
    """A shard's (count, token) pairs that can be among the most frequent: those counted at least ``least_count``."""
    return [(count, token) for token, count in shard_and_counts[1].items() if count >= least_count]


class MostFrequent(beam.CombineFn):
    """The shards' candidates to the vocabulary file's contents: the ``top_k`` most frequent tokens, a line each.

    Most frequent first, ties in descending byte order, as ``tft.vocabulary``. The output is one
    ``bytes``: Beam hands a global combine's result on as a side input, and its state cache
    measures a side input object by object.
    """

    def __init__(self, top_k: int):
        self.top_k = top_k

    def create_accumulator(self) -> List[CountedToken]:
        return []

    def add_input(self, pairs: List[CountedToken], shard_pairs: List[CountedToken]) -> List[CountedToken]:
        pairs.extend(shard_pairs)
        return pairs

    def merge_accumulators(self, accumulators) -> List[CountedToken]:
        return list(itertools.chain.from_iterable(accumulators))

    def extract_output(self, pairs: List[CountedToken]) -> bytes:
        return b"".join(token + b"\n" for _, token in sorted(pairs, reverse=True)[:self.top_k])


def write_vocabulary(contents: bytes, path: str) -> None:
    """Writes the vocabulary file, or tft.vocabulary's placeholder token if no token was seen."""
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "wb") as vocabulary:
        vocabulary.write(contents or EMPTY_VOCABULARY_TOKEN + b"\n")


class CountTopTokens(tft_beam.experimental.PTransformAnalyzer):
    """Batches of (distinct tokens, counts, shards) to the path of the vocabulary file it writes."""

    def __init__(self, top_k: int, vocab_filename: str):
        super().__init__()
        self.top_k, self.vocab_filename = top_k, vocab_filename

    def expand(self, batches):
        top_k, path = self.top_k, os.path.join(self.base_temp_dir, self.vocab_filename)
        counts = (batches
                  | "CountPerShard" >> beam.FlatMap(shard_counts)
                  | "SumPerShard" >> beam.CombinePerKey(SumCounts()))
        least_count = (counts
                       | "Histogram" >> beam.Map(count_histogram)
                       | "SumHistograms" >> beam.CombineGlobally(SumHistograms())
                       | "LeastKeptCount" >> beam.Map(least_kept_count, top_k))
        return (
            counts
            | "Candidates" >> beam.Map(candidates, beam.pvalue.AsSingleton(least_count))
            | "MostFrequent" >> beam.CombineGlobally(MostFrequent(top_k))
            | "Write" >> beam.Map(write_vocabulary, path)
            | "Path" >> beam.Map(lambda _: np.array(path.encode("utf-8")))
        )


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
    shards = tf.strings.to_hash_bucket_fast(distinct, TOKEN_SHARDS)
    (path,) = tft.experimental.ptransform_analyzer(
        [distinct, counts, shards], CountTopTokens(top_k, vocab_filename), output_dtypes=[tf.string],
        output_shapes=[[]], output_asset_default_values=[EMPTY_VOCABULARY_TOKEN], name="top_tokens")
    tft.annotate_asset(vocab_filename, vocab_filename)
    return path


def vocabulary_size(path: tf.Tensor) -> tf.Tensor:
    """The number of lines of the vocabulary file at ``path``, as an int64 scalar in the graph."""
    lines = tf.lookup.TextFileInitializer(path, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                          tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
    return tf.lookup.StaticHashTable(lines, default_value=-1).size()

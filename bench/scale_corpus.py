"""A larger aclImdb: the real train folder and new reviews sampled from a word model of it, for the scaling benchmark.

    python -m bench.scale_corpus --data-dir aclImdb --times 4 --output /tmp/aclImdb-4x
    python -m bench.scale_corpus --data-dir aclImdb --distinct   # real vs generated vocabulary growth

The output is an aclImdb folder (``train/{pos,neg}/ID_RATING.txt`` and the URL lists) with the
real train reviews and ``times - 1`` times as many generated ones, so that the pipeline reads it
as it reads the real folder (the eval split is carved by movie, here by generated movies).

Copies of the real reviews would add no new word, bigram or trigram, and a vocabulary analyzer
would see the same tokens ten times. A generated review instead is drawn, per label, from the
real reviews of that label:

- its length (in whitespace tokens) and its rating are those of a real review, drawn at random;
- its first token starts a real review; each next one follows the previous two as some real
  review's next token does (a trigram chain; after a pair no review has, the previous token alone,
  then any token), except that with ``JUMP`` it is any token of the
  label's text (drawn by frequency), which makes new bigrams and trigrams as real text does;
- with ``NEW_WORD`` a token is a word of the generated corpus's own (names, misspellings), drawn
  uniformly from a pool that grows with the corpus (``NEW_WORDS_PER_REVIEW`` per generated
  review), so that new words recur.

With ``JUMP``, ``NEW_WORD`` and ``NEW_WORDS_PER_REVIEW`` as set, the real train folder plus
50,000 generated reviews has as many distinct tokens in all (words, bigrams and trigrams after
the default preset's standardization) as the real train folder plus the 50,000 real reviews of
``unsup/``, within 1%, though more new words and fewer new trigrams (``--distinct`` prints both;
docs/scaling.md has the figures).
"""

import argparse
import os
import re
import shutil
import sys
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np

# The chance that a token leaves the chain for any token of the label's text.
JUMP = 0.35
# The chance that a token is a new word of the generated corpus, and that pool's size per review.
NEW_WORD = 0.03
NEW_WORDS_PER_REVIEW = 7.0
# Reviews per generated movie (aclImdb's train split: about 7 per movie and label).
REVIEWS_PER_MOVIE = 7
LABELS = ("neg", "pos")
_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]


class LabelModel:
    """The real reviews of one label as a trigram chain over whitespace tokens, with a bigram chain to fall back on."""

    def __init__(self, texts: Sequence[str], ratings: Sequence[int]):
        vocabulary: Dict[str, int] = {}
        reviews = [np.array([vocabulary.setdefault(t, len(vocabulary)) for t in text.split()], np.int64)
                   for text in texts]
        reviews = [ids for ids in reviews if len(ids)]
        self.words = np.array(list(vocabulary), dtype=object)
        self.lengths = np.array([len(ids) for ids in reviews])
        self.ratings = np.asarray(ratings)
        self.starts = np.array([ids[0] for ids in reviews])
        self.unigram = np.concatenate(reviews)  # every occurrence: a uniform draw is a draw by frequency
        # Bigram chain: the tokens that follow each token, grouped by it.
        previous = np.concatenate([ids[:-1] for ids in reviews])
        following = np.concatenate([ids[1:] for ids in reviews])
        order = np.argsort(previous, kind="stable")
        self.successors = following[order]
        self.successor_count = np.bincount(previous, minlength=len(self.words))
        self.successor_start = np.concatenate([[0], np.cumsum(self.successor_count)[:-1]])
        # Trigram chain: the tokens that follow each pair of tokens, grouped by the pair.
        pairs = np.concatenate([ids[:-2] * len(self.words) + ids[1:-1] for ids in reviews if len(ids) > 2])
        third = np.concatenate([ids[2:] for ids in reviews if len(ids) > 2])
        order = np.argsort(pairs, kind="stable")
        self.pair_keys, self.pair_start, self.pair_count = np.unique(pairs[order], return_index=True,
                                                                     return_counts=True)
        self.pair_successors = third[order]

    def sample(self, count: int, rng: np.random.Generator, new_words: int, batch: int = 2048
               ) -> Iterator[Tuple[List[int], int]]:
        """``count`` reviews as (token ids, rating); ids from ``len(words)`` on are new words."""
        vocabulary = len(self.words)
        picks = rng.integers(0, len(self.lengths), count)
        lengths, ratings = self.lengths[picks], self.ratings[rng.integers(0, len(self.ratings), count)]
        order = np.argsort(lengths)  # reviews of similar length are drawn together
        for first in range(0, count, batch):
            chosen = order[first:first + batch]
            steps = int(lengths[chosen].max())
            tokens = np.empty((len(chosen), steps), np.int64)
            tokens[:, 0] = self.starts[rng.integers(0, len(self.starts), len(chosen))]
            tokens[:, 1] = self._follow(tokens[:, 0], rng)
            for step in range(2, steps):
                tokens[:, step] = self._follow(tokens[:, step - 1], rng, tokens[:, step - 2])
            new = rng.random(tokens.shape) < NEW_WORD
            tokens[new] = vocabulary + rng.integers(0, new_words, int(new.sum()))
            for row, index in enumerate(chosen):
                yield tokens[row, :lengths[index]].tolist(), int(ratings[index])

    def _follow(self, last: np.ndarray, rng: np.random.Generator, before: np.ndarray = None) -> np.ndarray:
        """The next token of each row: after the last two tokens as in the text, else after the last, else any token;
        and any token (by frequency) with ``JUMP``."""
        vocabulary, rows = len(self.words), len(last)
        known = last < vocabulary
        last_ = np.minimum(last, vocabulary - 1)
        next_ = self.unigram[rng.integers(0, len(self.unigram), rows)]
        available = self.successor_count[last_]
        by_bigram = known & (available > 0)
        offset = (rng.random(rows) * np.maximum(available, 1)).astype(np.int64)
        bigram_next = self.successors[np.minimum(self.successor_start[last_] + offset, len(self.successors) - 1)]
        next_ = np.where(by_bigram, bigram_next, next_)
        if before is not None:
            keys = np.minimum(before, vocabulary - 1) * vocabulary + last_
            slot = np.minimum(np.searchsorted(self.pair_keys, keys), len(self.pair_keys) - 1)
            by_trigram = known & (before < vocabulary) & (self.pair_keys[slot] == keys)
            offset = (rng.random(rows) * self.pair_count[slot]).astype(np.int64)
            trigram_next = self.pair_successors[self.pair_start[slot] + offset]
            next_ = np.where(by_trigram, trigram_next, next_)
        jump = rng.random(rows) < JUMP
        return np.where(jump, self.unigram[rng.integers(0, len(self.unigram), rows)], next_)

    def text(self, ids: List[int]) -> str:
        vocabulary = len(self.words)
        return " ".join(self.words[i] if i < vocabulary else new_word(i - vocabulary) for i in ids)


def new_word(index: int) -> str:
    """The generated corpus's word number ``index``: two or more made-up syllables."""
    syllables = []
    index += len(_SYLLABLES)  # at least two syllables
    while index:
        index, digit = divmod(index, len(_SYLLABLES))
        syllables.append(_SYLLABLES[digit])
    return "".join(syllables)


def read_label(data_dir: str, label: str) -> Tuple[List[str], List[int]]:
    """The texts and ratings of the reviews of ``train/LABEL``."""
    folder = os.path.join(data_dir, "train", label)
    texts, ratings = [], []
    for name in sorted(os.listdir(folder)):
        match = _NAME.match(name)
        if match:
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                texts.append(f.read())
            ratings.append(int(match.group(2)))
    return texts, ratings


def write_corpus(data_dir: str, output: str, times: float, seed: int = 0) -> Dict[str, int]:
    """Writes the real train reviews and ``times - 1`` times as many generated ones into ``output``/train."""
    rng = np.random.default_rng(seed)
    written = {}
    for label in LABELS:
        texts, ratings = read_label(data_dir, label)
        source, target = os.path.join(data_dir, "train", label), os.path.join(output, "train", label)
        os.makedirs(target, exist_ok=True)
        names = sorted(n for n in os.listdir(source) if _NAME.match(n))
        for name in names:  # the real reviews, linked (they keep their ids: the URL list's lines match)
            os.link(os.path.join(source, name), os.path.join(target, name))
        urls_path = os.path.join(data_dir, "train", f"urls_{label}.txt")
        urls = []
        if os.path.isfile(urls_path):
            with open(urls_path) as f:
                urls = f.read().splitlines()
        next_id = max(int(_NAME.match(n).group(1)) for n in names) + 1
        urls = urls[:next_id] + [""] * (next_id - len(urls))  # line N: the movie of review N
        generated = int(round(len(names) * (times - 1)))
        model = LabelModel(texts, ratings)
        movies = max(1, generated // REVIEWS_PER_MOVIE)
        movie_of = rng.integers(0, movies, generated)
        first_movie = 9_000_000 if label == "pos" else 9_500_000
        for number, (ids, rating) in enumerate(model.sample(generated, rng, max(1, int(generated * NEW_WORDS_PER_REVIEW)))):
            review_id = next_id + number
            with open(os.path.join(target, f"{review_id}_{rating}.txt"), "w", encoding="utf-8") as f:
                f.write(model.text(ids))
            urls.append(f"http://www.imdb.com/title/tt{first_movie + int(movie_of[number]):07d}/usercomments")
        with open(os.path.join(output, "train", f"urls_{label}.txt"), "w") as f:
            f.write("\n".join(urls) + "\n")
        written[label] = len(names) + generated
    return written


def distinct_tokens(texts: Sequence[str], batch: int = 2000) -> Tuple[int, int, int]:
    """Distinct words, bigrams and trigrams of ``texts`` after the default standardization, as the vocabulary counts."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel  # only --distinct needs it

    from components.model import preprocessing
    from components.model.hparams import DEFAULT_PRESET, PRESETS

    standardization = PRESETS[DEFAULT_PRESET].standardization
    seen = [set(), set(), set()]
    for first in range(0, len(texts), batch):
        words = preprocessing.tokenize(tf.constant(list(texts[first:first + batch])), standardization)
        for size, kept in enumerate(seen, 1):
            grams = words if size == 1 else tf.strings.ngrams(words, size)
            kept.update(grams.flat_values.numpy().tolist())
    return len(seen[0]), len(seen[1]), len(seen[2])


def compare_distinct(data_dir: str, extra: int = 50_000, seed: int = 0) -> None:
    """Prints the distinct tokens of the real train folder, plus ``extra`` real (unsup/) or generated reviews."""
    labels = {label: read_label(data_dir, label) for label in LABELS}
    real = [t for texts, _ in labels.values() for t in texts]
    unsup_folder = os.path.join(data_dir, "train", "unsup")
    unsup = []
    for name in sorted(os.listdir(unsup_folder))[:extra]:
        with open(os.path.join(unsup_folder, name), encoding="utf-8", errors="replace") as f:
            unsup.append(f.read())
    rng = np.random.default_rng(seed)
    generated = []
    for texts, ratings in labels.values():
        model = LabelModel(texts, ratings)
        count = len(unsup) // len(LABELS)
        generated += [model.text(ids) for ids, _ in model.sample(count, rng, int(count * NEW_WORDS_PER_REVIEW))]
    print(f"{'corpus':<40} {'reviews':>8} {'words':>10} {'bigrams':>10} {'trigrams':>10} {'all':>10}")
    for name, texts in (("train", real), ("train + unsup (real)", real + unsup),
                        (f"train + {len(generated)} generated", real + generated)):
        counts = distinct_tokens(texts)
        print(f"{name:<40} {len(texts):>8} " + " ".join(f"{c:>10,}" for c in counts) + f" {sum(counts):>10,}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True, help="an aclImdb folder (holding train/)")
    parser.add_argument("--times", type=float, default=4.0, help="the output's size against train/ (default: 4)")
    parser.add_argument("--output", help="the new aclImdb folder (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--distinct", action="store_true",
                        help="print the distinct tokens of train/ plus unsup/ against train/ plus generated reviews")
    args = parser.parse_args(argv)
    if args.distinct:
        compare_distinct(args.data_dir, seed=args.seed)
        return 0
    if not args.output or args.times < 1:
        parser.error("--output is required, and --times must be at least 1")
    shutil.rmtree(args.output, ignore_errors=True)
    written = write_corpus(args.data_dir, args.output, args.times, args.seed)
    print(f"{args.output}: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

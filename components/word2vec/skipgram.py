"""Skip-gram with negative sampling (Mikolov et al., 2013) in TensorFlow, with no TFX types.

The text is standardized and split exactly as the classifier's (``preprocessing.tokenize``);
the vocabulary is built by tf.Transform (``word_vocabulary_fn``). Training follows the
original word2vec: frequent words subsampled, a window shrunk at random per centre word,
negatives drawn from the unigram distribution raised to 3/4, plain SGD with a learning
rate decaying linearly to zero. The reviews' token ids wait in files and are read back a
chunk of reviews at a time (``TokenIds``); each chunk's pairs are made with NumPy and trained in
large batches with hand-written gradients applied as sparse row updates (``scatter_sub``),
which keeps a step to the rows it touches; TensorFlow places it on a GPU when there is one.
"""

import dataclasses
import os
import time
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from components.model import features, preprocessing
from components.model.hparams import STANDARDIZATION_TUTORIAL

WORD_VOCABULARY_NAME = "words"


def word_vocabulary_fn(min_count: int, max_words: int, standardization: str = STANDARDIZATION_TUTORIAL) -> Callable:
    """A tf.Transform ``preprocessing_fn`` whose analysis writes the word vocabulary with counts.

    The file ``words`` lists ``count word`` lines, most frequent first, for the words seen
    at least ``min_count`` times (at most ``max_words`` of them), after ``standardization``.
    """

    def preprocessing_fn(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        words = preprocessing.tokenize(tf.reshape(inputs[features.RAW_TEXT_KEY], [-1]), standardization)
        tft.vocabulary(words, top_k=max_words, frequency_threshold=min_count,
                       vocab_filename=WORD_VOCABULARY_NAME, store_frequency=True)
        # tf.Transform wants an output; the vocabulary file is what this analysis is for.
        return {"words_per_review": words.row_lengths()}

    return preprocessing_fn


def read_counted_vocabulary(path: str) -> Tuple[List[str], np.ndarray]:
    """``(words, counts)`` from a tf.Transform vocabulary written with ``store_frequency``."""
    words, counts = [], []
    with tf.io.gfile.GFile(path, "rb") as f:
        for line in f:
            count, _, word = line.rstrip(b"\n").partition(b" ")
            words.append(word.decode("utf-8"))
            counts.append(int(count))
    return words, np.asarray(counts, np.float64)


# Reviews per training chunk: a chunk's pairs are made and shuffled together (about 2 million
# tokens and 10 million pairs, 80 MB, at aclImdb's 230 tokens a review), and the chunks are
# visited in a new random order each epoch. Memory is bounded by the chunk, not the corpus.
CHUNK_REVIEWS = 8192
_IDS_FILE, _LENGTHS_FILE = "ids.int32", "lengths.int32"


@dataclasses.dataclass
class TokenIds:
    """The in-vocabulary token ids of every review, in files under ``folder``, read back a chunk at a time.

    ``ids.int32`` holds the ids of all reviews one after the other, ``lengths.int32`` each
    review's number of ids; ``batches`` says where each written batch of reviews starts
    (review, token) and how many it has, so a chunk is two reads.
    """

    folder: str
    batches: List[Tuple[int, int, int, int]] = dataclasses.field(default_factory=list)  # review, token, reviews, tokens
    reviews: int = 0
    tokens: int = 0

    def append(self, ids: np.ndarray, lengths: np.ndarray) -> None:
        """Adds a batch of reviews: their ids, flat, and each one's number of ids."""
        with open(os.path.join(self.folder, _IDS_FILE), "ab") as f:
            np.asarray(ids, np.int32).tofile(f)
        with open(os.path.join(self.folder, _LENGTHS_FILE), "ab") as f:
            np.asarray(lengths, np.int32).tofile(f)
        self.batches.append((self.reviews, self.tokens, len(lengths), len(ids)))
        self.reviews += len(lengths)
        self.tokens += len(ids)

    def chunks(self, rng: Optional[np.random.Generator] = None,
               chunk_reviews: Optional[int] = None) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """(ids, review of each id) for chunks of about ``chunk_reviews`` reviews, in random order with ``rng``.

        Reviews are numbered within the chunk; a chunk holds whole written batches.
        """
        per_chunk = max(1, (chunk_reviews or CHUNK_REVIEWS) // max(1, max((b[2] for b in self.batches), default=1)))
        groups = [self.batches[i:i + per_chunk] for i in range(0, len(self.batches), per_chunk)]
        order = rng.permutation(len(groups)) if rng is not None else range(len(groups))
        for index in order:
            group = groups[index]
            first_review, first_token = group[0][0], group[0][1]
            reviews, tokens = sum(b[2] for b in group), sum(b[3] for b in group)
            ids = np.fromfile(os.path.join(self.folder, _IDS_FILE), np.int32, tokens, offset=4 * first_token)
            lengths = np.fromfile(os.path.join(self.folder, _LENGTHS_FILE), np.int32, reviews, offset=4 * first_review)
            yield ids, np.repeat(np.arange(reviews, dtype=np.int32), lengths)


def write_token_ids(texts: tf.data.Dataset, words: Sequence[str], folder: str,
                    standardization: str = STANDARDIZATION_TUTORIAL) -> TokenIds:
    """Writes the ids of the in-vocabulary words of every review under ``folder``, a batch at a time.

    Args:
      texts: Batches of raw review texts (a ``[batch]`` string tensor each).
      words: The vocabulary; a word's id is its row.
      folder: An empty local folder for the id files.
      standardization: As the classifier's (``HParams.standardization``).
    """
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(words)), tf.range(len(words), dtype=tf.int32)), -1)

    @tf.function
    def ids_of(batch):
        ids = table.lookup(preprocessing.tokenize(batch, standardization))
        kept = tf.ragged.boolean_mask(ids, ids >= 0)
        return kept.flat_values, kept.row_lengths()

    token_ids = TokenIds(folder)
    for batch in texts:
        ids, lengths = ids_of(batch)
        token_ids.append(ids.numpy(), lengths.numpy())
    return token_ids


def keep_probabilities(counts: np.ndarray, subsample: float) -> np.ndarray:
    """word2vec's chance of keeping each occurrence of a word: frequent words are thinned."""
    frequency = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(frequency / subsample) + 1) * subsample / frequency)


def skipgram_pairs(ids: np.ndarray, reviews: np.ndarray, keep: np.ndarray, window: int,
                   rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """One epoch of (centre, context) pairs, shuffled.

    Occurrences are subsampled with ``keep``; each centre word sees the words up to a
    window drawn uniformly from 1..``window`` on either side, within its own review.
    """
    kept = rng.random(len(ids)) < keep[ids]
    ids, reviews = ids[kept], reviews[kept]
    reach = rng.integers(1, window + 1, len(ids))
    centres, contexts = [], []
    for distance in range(1, window + 1):
        same_review = reviews[:-distance] == reviews[distance:]
        forward = same_review & (reach[:-distance] >= distance)  # centre i, context i + distance
        backward = same_review & (reach[distance:] >= distance)  # centre i + distance, context i
        centres += [ids[:-distance][forward], ids[distance:][backward]]
        contexts += [ids[distance:][forward], ids[:-distance][backward]]
    centres, contexts = np.concatenate(centres), np.concatenate(contexts)
    order = rng.permutation(len(centres))
    return centres[order], contexts[order]


@dataclasses.dataclass
class TrainingResult:
    table: np.ndarray  # [words, dim], the input (word) vectors
    pairs_per_epoch: List[int]
    loss_per_epoch: List[float]
    seconds: float


def train(token_ids: TokenIds, counts: np.ndarray, dim: int, window: int, negatives: int,
          epochs: int, subsample: float, learning_rate: float, batch_size: int, seed: int,
          log: Optional[Callable[[str], None]] = None, chunk_reviews: Optional[int] = None) -> TrainingResult:
    """Trains word vectors on the token ids of reviews; returns the input vectors, one row per word.

    The reviews are read a chunk at a time (``TokenIds.chunks``), so memory does not grow with
    the text. The learning rate falls linearly with the pairs trained, over an estimate of all
    epochs' pairs (each kept word has ``window + 1`` contexts on average) until the first epoch
    has counted them.
    """
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    tf.random.set_seed(seed)
    words = len(counts)
    keep = keep_probabilities(counts, subsample)
    noise = counts ** 0.75
    # Negatives are drawn by a uniform index into a table where each word fills its share.
    noise_table = tf.constant(np.repeat(np.arange(words, dtype=np.int32),
                                        np.maximum(1, np.round(noise / noise.sum() * 10_000_000)).astype(np.int64)))
    word_vectors = tf.Variable((rng.random((words, dim), dtype=np.float32) - 0.5) / dim, name="word_vectors")
    context_vectors = tf.Variable(tf.zeros((words, dim)), name="context_vectors")

    @tf.function
    def step(centres, contexts, rate):
        noise_ids = tf.gather(noise_table, tf.random.uniform(
            [tf.shape(centres)[0], negatives], 0, tf.shape(noise_table)[0], dtype=tf.int32))
        centre = tf.gather(word_vectors, centres)
        positive = tf.gather(context_vectors, contexts)
        negative = tf.gather(context_vectors, noise_ids)
        positive_logit = tf.reduce_sum(centre * positive, -1)
        negative_logit = tf.einsum("bd,bkd->bk", centre, negative)
        # d(loss)/d(logit) of -log(sigmoid(positive)) - sum(log(sigmoid(-negative))).
        positive_grad = tf.sigmoid(positive_logit) - 1.0
        negative_grad = tf.sigmoid(negative_logit)
        centre_grad = positive_grad[:, None] * positive + tf.einsum("bk,bkd->bd", negative_grad, negative)
        context_vectors.scatter_sub(tf.IndexedSlices(rate * positive_grad[:, None] * centre, contexts))
        context_vectors.scatter_sub(tf.IndexedSlices(
            tf.reshape(rate * negative_grad[..., None] * centre[:, None, :], [-1, dim]), tf.reshape(noise_ids, [-1])))
        word_vectors.scatter_sub(tf.IndexedSlices(rate * centre_grad, centres))
        return (tf.reduce_sum(-tf.math.log_sigmoid(positive_logit))
                + tf.reduce_sum(-tf.math.log_sigmoid(-negative_logit)))

    pairs_per_epoch, loss_per_epoch = [], []
    planned, trained = max(1.0, float(np.sum(counts * keep)) * (window + 1) * epochs), 0
    for epoch in range(epochs):
        total_loss, pairs = 0.0, 0
        for ids, reviews in token_ids.chunks(rng, chunk_reviews):
            centres, contexts = skipgram_pairs(ids, reviews, keep, window, rng)
            for start in range(0, len(centres), batch_size):
                rate = learning_rate * max(1e-4, 1.0 - trained / planned)
                batch = slice(start, start + batch_size)
                total_loss += float(step(centres[batch], contexts[batch], tf.constant(rate, tf.float32)))
                trained += len(centres[batch])
            pairs += len(centres)
        if epoch == 0:
            planned = max(1, pairs * epochs)
        pairs_per_epoch.append(pairs)
        loss_per_epoch.append(total_loss / max(1, pairs))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: {pairs:,} pairs, loss {loss_per_epoch[-1]:.4f}, "
                f"{time.monotonic() - started:.0f} s")
    return TrainingResult(word_vectors.numpy(), pairs_per_epoch, loss_per_epoch, time.monotonic() - started)


def read_word_pairs(path: str) -> List[Tuple[str, str, float]]:
    """Human similarity ratings of word pairs: ``word1<TAB>word2<TAB>score`` lines, ``#`` comments
    (the format of WordSim-353 and SimLex-999 as gensim ships them)."""
    pairs = []
    with tf.io.gfile.GFile(path, "r") as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            try:
                pairs.append((parts[0].lower(), parts[1].lower(), float(parts[2])))
            except (IndexError, ValueError) as err:
                raise ValueError(f"{path}, line {number}: expected word1<TAB>word2<TAB>score, got {line!r}") from err
    return pairs


@dataclasses.dataclass
class WordSimilarity:
    spearman: Optional[float]  # None with fewer than 3 rated pairs in the vocabulary
    pairs_rated: int
    pairs_missing: int  # a word of the pair is not in the vocabulary


def word_similarity(table: np.ndarray, words: Sequence[str], pairs: Iterable[Tuple[str, str, float]]) -> WordSimilarity:
    """Spearman correlation between the table's cosine similarity and human ratings, as gensim's
    ``evaluate_word_pairs`` computes it (pairs with an unknown word left out)."""
    from scipy import stats  # a TFX dependency

    row = {word: i for i, word in enumerate(words)}
    unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    human, model, missing = [], [], 0
    for first, second, score in pairs:
        if first in row and second in row:
            human.append(score)
            model.append(float(unit[row[first]] @ unit[row[second]]))
        else:
            missing += 1
    spearman = float(stats.spearmanr(human, model).correlation) if len(human) >= 3 else None
    return WordSimilarity(spearman, len(human), missing)

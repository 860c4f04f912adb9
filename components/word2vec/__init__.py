"""The Word2Vec component: word embeddings learned from all the review text with skip-gram.

Kept free of TensorFlow imports: the settings declaration and the key names are read by
the command line, which answers option errors without loading TensorFlow.
"""

import dataclasses
import os
from typing import Optional

from components.model.hparams import EMBEDDING_INIT_WORD2VEC, HParams
from components.setting import SettingError, check_integers, setting

# Key names shared by the component spec, the executor and the tests.
EXAMPLES_KEY = "examples"
WORD_EMBEDDING_KEY = "word_embedding"
MODEL_KEY = "model"  # the table as a base model for the classifier's Trainer (HParams.embedding_init)
SPLITS_KEY = "splits"
SETTINGS_KEY = "settings"
PROBE_WORDS_KEY = "probe_words"
WORD_PAIRS_FILE_KEY = "word_pairs_file"
STANDARDIZATION_KEY = "standardization"  # the classifier's HParams.standardization, so that words match

# Files of the output artifact, beside the projector files (vectors.tsv, metadata.tsv, ...).
SUMMARY_FILE = "word2vec_summary.json"
VOCABULARY_FOLDER = "transform_fn"  # tf.Transform's analysis output, with the counted vocabulary


@dataclasses.dataclass(frozen=True)
class Word2VecSettings:
    """Settings of the Word2Vec step (skip-gram with negative sampling); each declared once here."""

    word2vec: bool = setting(
        False, "also learn word embeddings with skip-gram from all the review text (train/ and train/unsup/, "
        "never test/) and show them in the Projector beside the classifier's")
    word2vec_dim: int = setting(64, "width of each Word2Vec word vector")
    word2vec_window: int = setting(5, "most words on each side of a centre word that count as its context")
    word2vec_negatives: int = setting(5, "noise words drawn per (word, context) pair")
    word2vec_epochs: int = setting(5, "passes over the text")
    word2vec_min_count: int = setting(5, "words seen fewer times are left out of the Word2Vec vocabulary")
    word2vec_subsample: float = setting(1e-4, "frequent words are thinned: those above this share of the text")
    word2vec_learning_rate: float = setting(0.025, "SGD learning rate, decaying linearly to 0")
    word2vec_batch_size: int = setting(16384, "(word, context) pairs per training step")
    word2vec_seed: int = setting(1, "seed of initialisation, subsampling, windows and noise words")
    word_pairs_file: Optional[str] = setting(
        None, "word pairs rated by people (word1<TAB>word2<TAB>score, # comments: WordSim-353 as gensim ships "
        "it), to report the Spearman correlation of the Word2Vec table's cosine similarity with them")

    def __post_init__(self):
        check_integers(self, ("word2vec_dim", "word2vec_window", "word2vec_negatives", "word2vec_epochs",
                              "word2vec_min_count", "word2vec_batch_size"), minimum=1)
        for name in ("word2vec_subsample", "word2vec_learning_rate"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise SettingError(name, f"{name} must be between 0 and 1, got {value!r}")
        check_integers(self, ("word2vec_seed",), minimum=0)
        # A local file is checked here; a URI (gs://...) when the component reads it, before it trains.
        if self.word_pairs_file and "://" not in self.word_pairs_file and not os.path.isfile(self.word_pairs_file):
            raise SettingError("word_pairs_file", f"word_pairs_file {self.word_pairs_file!r} is not a file")

    def for_model(self, hparams: HParams) -> "Word2VecSettings":
        """These settings, switched on when the classifier starts from the Word2Vec table.

        Raises:
          SettingError: When the classifier's table would not fit the Word2Vec one.
        """
        if hparams.embedding_init != EMBEDDING_INIT_WORD2VEC:
            return self
        if hparams.embedding_dim != self.word2vec_dim:
            raise SettingError(
                "embedding_dim", f"embedding_init 'word2vec' starts the table from Word2Vec's, so embedding_dim "
                f"({hparams.embedding_dim}) must equal word2vec_dim ({self.word2vec_dim})")
        return dataclasses.replace(self, word2vec=True)

    def training_config(self) -> dict:
        """What the component's executor needs (without the on/off switch and the pairs file)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name not in ("word2vec", "word_pairs_file")}

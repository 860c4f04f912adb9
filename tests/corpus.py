"""Generates small aclImdb-shaped corpora with a learnable sentiment signal."""

import os
import random
from typing import Dict, Optional

POSITIVE_WORDS = ["wonderful", "beautiful", "brilliant", "superb", "moving", "delightful", "masterpiece", "great"]
NEGATIVE_WORDS = ["awful", "boring", "terrible", "dreadful", "worst", "tedious", "waste", "bad"]
NEUTRAL_WORDS = [
    "the", "movie", "film", "plot", "actor", "scene", "story", "director", "and", "was", "it", "this",
    "camera", "music", "ending", "character", "dialogue", "script", "studio", "screen", "time", "watch",
]


def review_text(rng: random.Random, positive: bool, length: int = 30) -> str:
    """A review: mostly neutral words, with several sentiment words, HTML breaks and punctuation."""
    sentiment = POSITIVE_WORDS if positive else NEGATIVE_WORDS
    words = [rng.choice(NEUTRAL_WORDS) for _ in range(length)]
    for _ in range(max(3, length // 6)):
        words[rng.randrange(length)] = rng.choice(sentiment).capitalize() + rng.choice(["", "!", ",", "."])
    words.insert(length // 2, "<br /><br />")
    return " ".join(words) + "."


def write_corpus(
    root: str,
    train_per_label: int = 100,
    test_per_label: Optional[int] = 25,
    seed: int = 0,
    extras: bool = True,
    shuffle_train_labels: bool = False,
    flip_train_labels: bool = False,
    reviews_per_movie: Optional[int] = None,
    unsup_reviews: int = 0,
) -> Dict[str, int]:
    """Writes ``root/train/{pos,neg}`` (and ``test/``) of ``ID_RATING.txt`` files.

    Args:
      root: The dataset root to create.
      train_per_label: Reviews per label in ``train/``.
      test_per_label: Reviews per label in ``test/``; None for no test folder.
      seed: Seed of the generator.
      extras: Also write what the real archive has beside the reviews
        (``unsup/``, URL lists, ``.feat`` files), which readers must ignore.
      shuffle_train_labels: File the train reviews under pos/ and neg/ at random
        (half each), so that a model trained on them learns nothing; ``test/``
        keeps true labels.
      flip_train_labels: File every positive train review under neg/ and every
        negative one under pos/: labels that are all wrong.
      unsup_reviews: Write this many unlabelled reviews ``train/unsup/N_0.txt`` (half
        of each sentiment, as in the real folder), instead of the one ``extras`` writes.
      reviews_per_movie: Write URL lists that name a movie for every labelled review:
        reviews ``N*k .. N*k+k-1`` of a label folder are of movie ``tt{label}{N}``, so
        with ``k`` > 1 each movie has several reviews. Otherwise (``extras``) the lists
        name one movie, for review 0 only.

    Returns:
      Number of labelled reviews per split folder.
    """
    rng = random.Random(seed)
    counts = {}
    splits = {"train": train_per_label}
    if test_per_label is not None:
        splits["test"] = test_per_label
    for split, per_label in splits.items():
        texts = {
            label: [review_text(rng, positive=label == "pos") for _ in range(per_label)] for label in ("pos", "neg")
        }
        if split == "train" and shuffle_train_labels:
            pooled = texts["pos"] + texts["neg"]
            rng.shuffle(pooled)
            texts = {"pos": pooled[:per_label], "neg": pooled[per_label:]}
        if split == "train" and flip_train_labels:
            texts = {"pos": texts["neg"], "neg": texts["pos"]}
        for label, ratings in (("pos", (7, 8, 9, 10)), ("neg", (1, 2, 3, 4))):
            folder = os.path.join(root, split, label)
            os.makedirs(folder, exist_ok=True)
            for review_id, text in enumerate(texts[label]):
                path = os.path.join(folder, f"{review_id}_{rng.choice(ratings)}.txt")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
        counts[split] = 2 * per_label
        if extras or (unsup_reviews and split == "train"):
            os.makedirs(os.path.join(root, split, "unsup"), exist_ok=True)
        if unsup_reviews and split == "train":
            for review_id in range(unsup_reviews):
                with open(os.path.join(root, split, "unsup", f"{review_id}_0.txt"), "w", encoding="utf-8") as f:
                    f.write(review_text(rng, positive=review_id % 2 == 0))
        if extras:
            if not (unsup_reviews and split == "train"):
                with open(os.path.join(root, split, "unsup", "0_0.txt"), "w") as f:
                    f.write("an unlabelled review that must be ignored")
            for name in ("urls_pos.txt", "urls_neg.txt", "labeledBow.feat"):
                with open(os.path.join(root, split, name), "w") as f:
                    f.write("http://www.imdb.com/title/tt0000000/usercomments\n")
        if reviews_per_movie:
            for label, digit in (("pos", 1), ("neg", 2)):
                with open(os.path.join(root, split, f"urls_{label}.txt"), "w") as f:
                    f.writelines(f"http://www.imdb.com/title/tt{digit}{n // reviews_per_movie:06d}/usercomments\n"
                                 for n in range(per_label))
    return counts

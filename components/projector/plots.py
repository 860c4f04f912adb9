"""PNG pictures of a run, with no TFX types: training curves and a 2-D map of the embedding."""

from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

TRAINING_CURVES_FILE = "training_curves.png"
EMBEDDING_MAP_FILE = "embedding_pca.png"

# The map shows the most frequent tokens (rows come in frequency order) as context.
_MAP_BACKGROUND_POINTS = 3000


def plot_training_curves(history: Dict[str, List[float]], path: str) -> None:
    """Loss and accuracy per epoch, train against eval, side by side.

    Args:
      history: Keras history: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.
      path: The PNG to write.
    """
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for key, label, style in ((metric, "train", "o-"), (f"val_{metric}", "eval", "s-")):
            values = history.get(key, [])
            axis.plot(range(1, len(values) + 1), values, style, label=label, markersize=3)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.set_title(f"{metric} per epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Projects rows onto their first two principal components."""
    centered = np.asarray(vectors, dtype=np.float64) - np.mean(vectors, axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    return centered @ components[:2].T


def plot_embedding_map(
    vectors: np.ndarray, labels: Sequence[str], neighbours: Dict[str, List], path: str
) -> None:
    """The embedding's first two principal components, probe words and their neighbours labelled.

    Args:
      vectors: Embedding rows (padding row removed), most frequent tokens first.
      labels: One label per row.
      neighbours: ``{probe word: [(neighbour, similarity), ...]}``.
      path: The PNG to write.
    """
    points = pca_2d(vectors)
    row_of = {label: i for i, label in enumerate(labels)}
    figure, axis = plt.subplots(figsize=(10, 8))
    background = points[:_MAP_BACKGROUND_POINTS]
    axis.scatter(background[:, 0], background[:, 1], s=3, c="lightgray",
                 label=f"{len(background):,} most frequent tokens")
    colours = plt.get_cmap("tab10")
    for index, (word, near) in enumerate(neighbours.items()):
        colour = colours(index % 10)
        rows = [row_of[word]] + [row_of[label] for label, _ in near[:5] if label in row_of]
        axis.scatter(points[rows, 0], points[rows, 1], s=18, color=colour, label=word)
        for rank, row in enumerate(rows):
            axis.annotate(labels[row], points[row], fontsize=10 if rank == 0 else 7, color=colour,
                          fontweight="bold" if rank == 0 else "normal", xytext=(3, 3), textcoords="offset points")
    axis.set_title("Word embedding, first two principal components (probe words and 5 nearest neighbours)")
    axis.set_xlabel("PC 1")
    axis.set_ylabel("PC 2")
    axis.legend(loc="best", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

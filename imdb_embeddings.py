"""Artifact types of this project, importable by the name ML Metadata and KFP know them by.

On Kubeflow, TFX's container entrypoint rebuilds a custom artifact from its KFP
schema title, ``<module>.<Class>``, by importing exactly that path; the title of
each custom type is its ``TYPE_NAME``, so this module carries those names.
"""

from components.artifacts import EmbeddingProjectorFiles, WordEmbedding

__all__ = ["EmbeddingProjectorFiles", "WordEmbedding"]

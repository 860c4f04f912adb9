"""The project's own artifact types and their custom property names.

Here, apart from the components that produce and read them, so that the projector and
Word2Vec components need not import each other. ``imdb_embeddings.py`` re-exports the types
under the names their ``TYPE_NAME`` carries (see there why).
"""

from tfx import types

# Custom properties of both types (not declared PROPERTIES: KFP v2 gives a custom artifact
# type no schema for those).
ROWS_PROPERTY = "rows"  # table rows written: the vocabulary and its OOV rows, without padding
DIMENSION_PROPERTY = "embedding_dim"


class EmbeddingProjectorFiles(types.Artifact):
    """A trained embedding table as Embedding Projector files.

    Layout of the artifact's folder::

        vectors.tsv              one row per token: embedding_dim tab-separated floats
        metadata.tsv             a header, then one row per token (row i labels row i of
                                 vectors.tsv): token, kind (word, bigram, trigram, oov), train_count,
                                 polarity (the classifier's logit for that token alone)
        nearest_neighbours.json  ten nearest neighbours (cosine) of each probe word
        embedding_pca.png        2-D PCA map of the embedding, probe words labelled
        training_curves.png      loss and accuracy per epoch (when ``model_run`` is given)
        projector_config.pbtxt   TensorBoard projector config: the table "classifier" (and
                                 "word2vec" with a Word2Vec table, in ``word2vec/``)

    The padding row is left out. Custom properties: ``ROWS_PROPERTY`` and ``DIMENSION_PROPERTY``.
    """

    TYPE_NAME = "imdb_embeddings.EmbeddingProjectorFiles"  # the module that exports it: see imdb_embeddings.py


class WordEmbedding(types.Artifact):
    """Word vectors learned without labels, as Embedding Projector files.

    Layout of the artifact's folder::

        vectors.tsv, metadata.tsv, projector_config.pbtxt
                                 the table for the Projector ("word2vec"), one word per row
                                 (``metadata.tsv``: header, then word and count)
        transform_fn/            tf.Transform's analysis: assets/words, "count word" lines
        word2vec_summary.json    settings, pairs and loss per epoch, seconds, device,
                                 nearest neighbours of the probe words, word similarity

    Custom properties: ``ROWS_PROPERTY`` and ``DIMENSION_PROPERTY``.
    """

    TYPE_NAME = "imdb_embeddings.WordEmbedding"  # the module that exports it: see imdb_embeddings.py

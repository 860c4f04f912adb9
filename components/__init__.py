"""TFX components and module code of the IMDB word-embeddings pipeline."""

"""The IMDB word-embeddings pipeline: definition, data, runners and command line."""

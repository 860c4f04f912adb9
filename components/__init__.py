"""TFX components and module code of the IMDB word-embeddings pipeline."""

# The logger of progress lines (the command line shows them; `--quiet` silences them). A
# component logs to a child of it, e.g. "imdb_embeddings.trainer".
PROGRESS_LOGGER_NAME = "imdb_embeddings"

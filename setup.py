"""Packaging for the IMDB word-embeddings TFX pipeline.

The packages are installed so that TFX components can name their code by import path
(``components.model.preprocessing.preprocessing_fn``) on every runner, and so that a
container image for Kubeflow only needs ``pip install .``.
"""

import setuptools

setuptools.setup(
    name="imdb-word-embeddings",
    version="0.1.0",
    description="A TFX pipeline that learns word embeddings from IMDB reviews for the Embedding Projector.",
    python_requires=">=3.10,<3.11",
    packages=setuptools.find_packages(include=["pipeline", "pipeline.*", "components", "components.*"]),
    # The module named by the projector artifact's type name (see imdb_embeddings.py).
    py_modules=["imdb_embeddings"],
    package_data={"pipeline.definition": ["schema/*.pbtxt"]},
    install_requires=["tfx[kfp]==1.16.0", "dill", "matplotlib"],
)

# The pipeline image for Kubeflow Pipelines and Vertex AI, and the SDK worker image of its Beam steps on
# Dataflow, Flink or Spark: Python 3.10 on Debian 12 (as CI), the pinned dependencies and this project
# installed by tools/install, the same steps `make setup` runs in CI. The compiled spec names executors by
# import path (components.*), which this image resolves, and gives every step its own command; a Beam runner
# starts the image without one, so the entry point is Beam's SDK worker boot.
#
#   docker build -t IMAGE .                       # CPU
#   docker build --build-arg GPU=1 -t IMAGE-gpu . # GPU variant: TensorFlow with CUDA from PyPI
# (`make image IMAGE=... [GPU=1]` runs the same.)

# Beam's worker boot for the apache-beam version pinned in constraints.txt (a test keeps the two equal).
FROM apache/beam_python3.10_sdk:2.74.0 AS beam

FROM python:3.10.13-bookworm

ARG GPU=
ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1

# The project lives where Beam workers find its setup.py (--setup_file=/pipeline/setup.py).
WORKDIR /pipeline

# Dependencies first, in a layer of their own: a code change does not reinstall them.
COPY requirements.txt requirements-gpu.txt constraints.txt constraints-gpu.txt ./
COPY tools/install tools/install
RUN tools/install python deps ${GPU:+--gpu}

COPY --from=beam /opt/apache/beam /opt/apache/beam

COPY . .
RUN tools/install python project \
 && python -c "import components.example_gen.executor, pipeline.runners.kfp_container, imdb_embeddings"

ENTRYPOINT ["/opt/apache/beam/boot"]

"""What a data root holds that decides the pipeline's shape; ``pipeline.data.describe_data_root``
looks, ``create_pipeline`` only reads it. Free of TensorFlow imports."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class DataShape:
    """The shape of an aclImdb data root (a folder, or a ``gs://`` URI on Kubeflow)."""

    spans: bool = False  # span-N/ folders: the newest span is ingested, with a window of the ones before it
    test_split: bool = False  # a labelled test/ (over spans, the newest span's): the Evaluator judges on it
    unsup_split: bool = False  # train/unsup/ (over spans, any span's): unlabelled reviews for Word2Vec

    def describe(self) -> str:
        return ", ".join([*(["spans"] if self.spans else []),
                          "a test split" if self.test_split else "no test split",
                          *(["unlabelled reviews"] if self.unsup_split else [])])

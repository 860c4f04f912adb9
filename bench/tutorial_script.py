"""The seed tutorial as a plain Keras script, on an aclImdb folder: the benchmark's reference.

As the tutorial: ``text_dataset_from_directory`` with a 20% validation split (seed 123),
batch 1024, ``cache().prefetch()``, ``TextVectorization`` adapted on the train texts
(10,000 tokens, 100 per review), Embedding(16) -> GlobalAveragePooling1D -> Dense(16,
relu) -> Dense(1), Adam, 15 epochs, with ``tf.keras`` (Keras 3 in TensorFlow 2.16, not the
pipeline's tf-keras). Accuracy thresholds the logit at 0, as the pipeline.
Prints one JSON line: seconds (after imports), epochs, validation accuracy and count.

    python -m bench.tutorial_script --data-dir aclImdb [--epochs 15]
"""

import argparse
import json
import os
import re
import shutil
import string
import sys
import tempfile
import time

# The tutorial as it runs today: `tf.keras` is Keras 3 in TensorFlow 2.16, whatever the pipeline's setting.
os.environ.pop("TF_USE_LEGACY_KERAS", None)

import tensorflow as tf  # noqa: E402

keras = tf.keras


def custom_standardization(input_data):
    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(stripped_html, "[%s]" % re.escape(string.punctuation), "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="aclImdb folder holding train/pos and train/neg")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--vocab-size", type=int, default=10000)
    parser.add_argument("--sequence-length", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args(argv)
    started = time.monotonic()
    keras.utils.set_random_seed(123)
    common = dict(batch_size=args.batch_size, validation_split=0.2, seed=123)
    # The tutorial deletes train/unsup; links to pos/ and neg/ leave the data folder as it is.
    train_dir = tempfile.mkdtemp(prefix="tutorial-train-")
    for label in ("neg", "pos"):
        os.symlink(os.path.abspath(os.path.join(args.data_dir, "train", label)), os.path.join(train_dir, label))
    train_ds = keras.utils.text_dataset_from_directory(train_dir, subset="training", **common)
    val_ds = keras.utils.text_dataset_from_directory(train_dir, subset="validation", **common)
    train_ds = train_ds.cache().prefetch(buffer_size=tf.data.AUTOTUNE)
    val_ds = val_ds.cache().prefetch(buffer_size=tf.data.AUTOTUNE)

    vectorize_layer = keras.layers.TextVectorization(
        standardize=custom_standardization, max_tokens=args.vocab_size, output_mode="int",
        output_sequence_length=args.sequence_length)
    vectorize_layer.adapt(train_ds.map(lambda x, y: x))
    model = keras.Sequential([
        vectorize_layer,
        keras.layers.Embedding(args.vocab_size, 16, name="embedding"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)])
    history = model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, verbose=0)
    seconds = time.monotonic() - started
    shutil.rmtree(train_dir)  # the two links
    print(json.dumps({
        "seconds": seconds, "epochs": args.epochs, "eval_accuracy": history.history["val_accuracy"][-1],
        "eval_examples": int(sum(len(y) for _, y in val_ds)),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

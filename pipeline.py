#!/usr/bin/env python3
"""Command-line entry point: ``python pipeline.py run --data-dir aclImdb``; ``--help`` for more.

A script, not a module: the ``pipeline/`` package beside it takes precedence on import.
``pipeline.cli`` sets ``TF_USE_LEGACY_KERAS`` before anything imports TensorFlow.
"""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Command-line entry point: ``python pipeline.py run --data-dir aclImdb``; ``--help`` for more.

A script, not a module: the ``pipeline/`` package beside it takes precedence on import.
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pipeline.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

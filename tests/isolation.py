"""Running the project's code as a container or a Beam worker does: away from this checkout (tests only)."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# setup.py's packages and modules: what the image installs.
PROJECT_FILES = ("setup.py", "pipeline", "components", "imdb_embeddings.py")
# Run at interpreter start: takes out the editable install's finder, which would map the project's packages
# back to this checkout (an image or a worker has no checkout to map to).
NO_CHECKOUT = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
"""


def no_checkout_harness(folder) -> str:
    """A folder to put on ``PYTHONPATH``: its ``sitecustomize`` unlinks the checkout. Returns its path."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "sitecustomize.py"), "w", encoding="utf-8") as f:
        f.write(NO_CHECKOUT)
    return str(folder)


def install_copy(work) -> str:
    """Installs the project (not linked: built from a copy of its sources) into ``work/site-packages``."""
    source, site = os.path.join(work, "source"), os.path.join(work, "site-packages")
    os.makedirs(source)
    for name in PROJECT_FILES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(source, name), ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, os.path.join(source, name))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", site, source], check=True)
    return site


def tree_bytes(folder) -> dict:
    """Every file under a folder, by relative path, with its bytes."""
    listing = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(parent, name), "rb") as f:
                listing[os.path.relpath(os.path.join(parent, name), folder)] = f.read()
    return listing

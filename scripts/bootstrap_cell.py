"""The first code cell of every notebook (the bootstrap), written once here and stamped into the notebooks
by ``scripts/stamp_notebooks.py``. ``tests/test_repository.py`` checks that every notebook holds it unchanged,
metadata included.

What the cell does, in order:
1. walk up from the working directory to the checkout (a folder holding ``utils/training.py``);
2. else use an installed ``utils`` (``pip install -e .`` from a checkout);
3. else, on Google Colab (``google.colab`` is loaded), clone the repository into the working directory
   (``/content`` on Colab) and pip-install only the packages Colab lacks (none today: it ships torch,
   torchvision, scikit-learn, matplotlib, tqdm and its own ipywidgets, which drives Colab's widgets);
4. else stop with a message that says what to do.
Then ``import utils`` and ``utils.setup(seed=...)``.

In JupyterLab the cell is hidden (``METADATA``) and shows its first line, the ``#@title`` line; Colab shows it as
a form with that title. Both open it with a click.

The repository's address is in one place, ``GITHUB_REPO`` below; the environment variable
``OPTIM_REPO_URL`` overrides the clone URL (the tests point it at a local repository).
"""

from __future__ import annotations

import re

GITHUB_REPO = "optimizing-model-parameters/optimizing-model-parameters"  # owner/name on GitHub: set it ONCE here
REPO_URL = f"https://github.com/{GITHUB_REPO}.git"
CLONE_DIR = GITHUB_REPO.split("/")[1]  # the folder the Colab clone goes into, under the working directory
COLAB_URL = "https://colab.research.google.com/github/{repo}/blob/main/notebooks/{file}"
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"

TITLE = "Set-up: find or fetch the series' code, seed everything, pick the device (run me first)"
MARK = f"#@title {TITLE}"  # the first line: Colab's form title, and the line JupyterLab shows when the cell is hidden
# The cell's metadata: hidden in JupyterLab (it shows the first line), a form in Colab (it shows the title).
METADATA = {"cellView": "form", "jupyter": {"source_hidden": True}}

BOOTSTRAP_CELL = f'''\
{MARK}
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

root = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "utils" / "training.py").is_file()), None)
spec = importlib.util.find_spec("utils") if root is None else None
if spec and spec.origin and Path(spec.origin).with_name("training.py").is_file():
    root = Path(spec.origin).parent.parent  # `pip install -e .` from a checkout
if root is None and "google.colab" in sys.modules:  # opened alone on Colab: fetch the series once
    root = Path.cwd() / "{CLONE_DIR}"
    if not (root / "utils" / "training.py").is_file():
        url = os.environ.get("OPTIM_REPO_URL", "{REPO_URL}")
        subprocess.run(["git", "clone", "--quiet", "--depth=1", url, str(root)], check=True)
    needed = {{"torch": "torch", "torchvision": "torchvision", "scikit-learn": "sklearn", "matplotlib": "matplotlib",
              "tqdm": "tqdm", "ipywidgets": "ipywidgets"}}  # Colab ships all of them: usually nothing to install
    missing = [package for package, module in needed.items() if importlib.util.find_spec(module) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)
if root is None:
    raise ModuleNotFoundError("`utils` not found. Open this notebook from a checkout of the repository "
                              "(`make lab` there), or run `pip install -e .` in the checkout first.")
if str(root) not in sys.path:
    sys.path.insert(0, str(root))
import utils

device = utils.setup(seed=0)  # prints the versions, the device and the number of CPU threads'''

SEED = re.compile(r"utils\.setup\(seed=(\d+)\)")


def bootstrap_cell(seed: int = 0) -> str:
    """The canonical first cell with ``utils.setup(seed=seed)``."""
    return SEED.sub(f"utils.setup(seed={int(seed)})", BOOTSTRAP_CELL)


def colab_url(notebook_file: str) -> str:
    """Where Colab opens ``notebooks/<notebook_file>`` straight from GitHub."""
    return COLAB_URL.format(repo=GITHUB_REPO, file=notebook_file)


def colab_badge(notebook_file: str) -> str:
    """The "Open in Colab" badge for ``notebooks/<notebook_file>`` as one markdown line."""
    return f"[![Open in Colab]({COLAB_BADGE_IMAGE})]({colab_url(notebook_file)})"

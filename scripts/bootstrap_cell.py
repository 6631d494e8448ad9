"""The first code cell of every notebook (the bootstrap), written once here and stamped into the notebooks
by ``scripts/stamp_notebooks.py``. ``tests/test_repository.py`` checks that every notebook holds it unchanged,
metadata included.

What the cell does, in order:
1. use the checkout that holds the notebook: the working directory (Jupyter starts the kernel in the notebook's
   folder) when it is ``notebooks/`` of a checkout, or the checkout itself. Never a folder further up: a ``utils``
   planted in ``/tmp`` or a shared course folder is not imported (review reliability.md, G1);
2. else use an installed ``utils`` (``pip install -e .`` from a checkout);
3. else, on Google Colab (``google.colab`` is loaded) or Kaggle (``KAGGLE_KERNEL_RUN_TYPE`` is set), clone the
   repository at ``REVISION``, the tag or branch the notebook belongs to, into the working directory (``/content``,
   ``/kaggle/working``) and pip-install the declared dependencies (pyproject.toml) the platform lacks (optuna and
   tensorboard at most, today). A failed clone stops with a sentence that names the address and the revision;
4. else stop with a message that says what to do.
Then ``import utils`` and ``utils.setup(seed=...)``.

In JupyterLab the cell is hidden (``METADATA``) and shows its first line, the ``#@title`` line; Colab shows it as
a form with that title. Both open it with a click.

The repository's address is in one place, ``GITHUB_REPO`` below; the environment variable ``OPTIM_REPO_URL``
overrides the clone URL (the tests point it at a local repository). ``revision()`` reads the revision from
pyproject.toml's version: a development version (``0.2.0.dev0``) is ``main``; a release (``0.2.0``) is its tag
``v0.2.0``, which the Colab badges open too. To release: set the version, run ``scripts/stamp_notebooks.py``,
commit, tag ``v<version>`` and push the tag; then set the next ``.dev0`` version and stamp again.
"""

from __future__ import annotations

import re
from pathlib import Path

GITHUB_REPO = "optimizing-model-parameters/optimizing-model-parameters"  # owner/name on GitHub: set it ONCE here
REPO_URL = f"https://github.com/{GITHUB_REPO}.git"
CLONE_DIR = GITHUB_REPO.split("/")[1]  # the folder the Colab/Kaggle clone goes into, under the working directory
COLAB_URL = "https://colab.research.google.com/github/{repo}/blob/{revision}/notebooks/{file}"
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_URL = "https://mybinder.org/v2/gh/{repo}/{revision}?urlpath=lab/tree/notebooks/00_start_here.ipynb"
BINDER_BADGE_IMAGE = "https://mybinder.org/badge_logo.svg"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def revision(pyproject: Path = PYPROJECT) -> str:
    """The revision the notebooks belong to: ``main`` for a development version, else the tag ``v<version>``."""
    found = re.search(r'^version = "([^"]+)"', pyproject.read_text(encoding="utf-8"), re.MULTILINE)
    if found is None:
        raise ValueError(f"{pyproject}: no `version = \"...\"` line in [project]")
    return "main" if ".dev" in found.group(1) else f"v{found.group(1)}"


TITLE = "Set-up: find or fetch the series' code, seed everything, pick the device (run me first)"
MARK = f"#@title {TITLE}"  # the first line: Colab's form title, and the line JupyterLab shows when the cell is hidden
# The cell's metadata: hidden in JupyterLab (it shows the first line), a form in Colab (it shows the title).
METADATA = {"cellView": "form", "jupyter": {"source_hidden": True}}

BOOTSTRAP_CELL = f'''\
{MARK}
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

REVISION = "{{revision}}"  # the series' tag or branch this notebook belongs to (scripts/stamp_notebooks.py)
here = Path.cwd()  # Jupyter starts the kernel in the notebook's folder
# the checkout that holds this notebook, never a folder further up nor one anybody may write to, such as /tmp
# (a `utils` planted there would run)
root = next((p for p in (here, here.parent) if here in (p, p / "notebooks") and (p / "utils" / "training.py").is_file()
             and (os.name == "nt" or not p.stat().st_mode & 0o002)), None)
spec = importlib.util.find_spec("utils") if root is None else None
if spec and spec.origin and Path(spec.origin).with_name("training.py").is_file():
    root = Path(spec.origin).parent.parent  # `pip install -e .` from a checkout
if root is None and ("google.colab" in sys.modules or "KAGGLE_KERNEL_RUN_TYPE" in os.environ):  # Colab, Kaggle
    root = here / "{CLONE_DIR}"  # fetch the series once, at this notebook's revision
    if not (root / "utils" / "training.py").is_file():
        url = os.environ.get("OPTIM_REPO_URL", "{REPO_URL}")
        git = subprocess.run(["git", "clone", "--quiet", "--depth=1", "--branch", REVISION, url, str(root)],
                             capture_output=True, text=True)
        if git.returncode != 0:
            why = " ".join(git.stderr.split()).rstrip(".")
            raise RuntimeError(f"Could not download the series' code ({{url}} at {{REVISION}}): {{why}}. Check the "
                               "internet connection (on Kaggle: Internet on, in the notebook's settings) and run this cell again.")
    import tomllib  # the platform's Python is 3.11 or newer

    have = {{re.sub(r"[-_.]+", "-", d.metadata["Name"] or "").lower() for d in importlib.metadata.distributions()}}
    needed = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    missing = [r for r in needed if re.match(r"[\\w-]+", r)[0] not in have]  # optuna and tensorboard at most
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)
if root is None:
    raise ModuleNotFoundError("`utils` not found. Open this notebook in the notebooks/ folder of a checkout of the "
                              "repository (`make lab` there), or run `pip install -e .` in the checkout first.")
if str(root) not in sys.path:
    sys.path.insert(0, str(root))
import utils

device = utils.setup(seed=0)  # prints the versions, the device and the number of CPU threads'''

SEED = re.compile(r"utils\.setup\(seed=(\d+)\)")


def bootstrap_cell(seed: int = 0, revision_: str | None = None) -> str:
    """The canonical first cell with ``utils.setup(seed=seed)``, cloning ``revision_`` (default: ``revision()``)."""
    cell = BOOTSTRAP_CELL.replace("{revision}", revision_ or revision())
    return SEED.sub(f"utils.setup(seed={int(seed)})", cell)


def colab_url(notebook_file: str, revision_: str | None = None) -> str:
    """Where Colab opens ``notebooks/<notebook_file>`` straight from GitHub, at the notebooks' revision."""
    return COLAB_URL.format(repo=GITHUB_REPO, revision=revision_ or revision(), file=notebook_file)


def colab_badge(notebook_file: str, revision_: str | None = None) -> str:
    """The "Open in Colab" badge for ``notebooks/<notebook_file>`` as one markdown line."""
    return f"[![Open in Colab]({COLAB_BADGE_IMAGE})]({colab_url(notebook_file, revision_)})"


def binder_badge(revision_: str | None = None) -> str:
    """The "launch binder" badge (README): JupyterLab on mybinder.org with binder/'s CPU-only environment."""
    url = BINDER_URL.format(repo=GITHUB_REPO, revision=revision_ or revision())
    return f"[![Launch on Binder]({BINDER_BADGE_IMAGE})]({url})"

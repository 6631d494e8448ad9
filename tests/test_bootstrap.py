"""The bootstrap cell (scripts/bootstrap_cell.py) where learners open a notebook: on Google Colab or Kaggle with
nothing but the notebook, outside the checkout with the package installed, below a folder holding a planted
``utils``, in another checkout, and nowhere (a clear message).

Each case runs the first code cell of a freshly stamped copy of notebook 00 in a separate Python process, from
an empty working directory. Colab is simulated by a stand-in ``google.colab`` module, Kaggle by its
``KAGGLE_KERNEL_RUN_TYPE`` variable; for both the checkout and the editable install are hidden, and
``OPTIM_REPO_URL`` points at a local repository made from the working tree. pip is not run: its calls are recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bootstrap_cell  # noqa: E402
import stamp_notebooks  # noqa: E402

# Runs in a child process: argv = [notebook, "colab" | "kaggle" | "installed" | "nowhere"]. Records every
# subprocess.run call the cell makes; runs git, but not pip (a pip call succeeds without installing anything).
DRIVER = r'''
import json, subprocess, sys
from pathlib import Path

notebook, where = sys.argv[1], sys.argv[2]
if where != "installed":  # as on Colab and Kaggle: neither the editable install nor the checkout can provide `utils`
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in repr(f)]
    sys.path_hooks[:] = [h for h in sys.path_hooks if "__editable__" not in repr(h)]
    sys.path_importer_cache.clear()
    import importlib.util
    assert importlib.util.find_spec("utils") is None, "test set-up: utils is still importable"
if where == "colab":
    import google.colab  # noqa: F401  (Colab's kernel has it loaded)

calls = []
real_run = subprocess.run
def recording_run(cmd, *args, **kwargs):
    calls.append([str(c) for c in cmd])
    if cmd[1:3] == ["-m", "pip"]:
        return subprocess.CompletedProcess(cmd, 0)
    return real_run(cmd, *args, **kwargs)
subprocess.run = recording_run

cells = [c for c in json.load(open(notebook))["cells"] if c["cell_type"] == "code"]
namespace = {}
exec("".join(cells[0]["source"]), namespace)
first_calls = list(calls)
exec("".join(cells[0]["source"]), namespace)  # a second run (Run All again) must not clone again
import torch
print(json.dumps({"utils": namespace["utils"].__file__, "root": str(namespace["root"]),
                  "device": str(namespace["device"]), "threads": torch.get_num_threads(),
                  "calls": first_calls, "calls_again": calls[len(first_calls):]}))
'''


@pytest.fixture
def stamped_notebook(tmp_path):
    """A copy of notebook 00 with the canonical bootstrap stamped in (whatever the committed cell holds)."""
    source = ROOT / "notebooks" / "00_start_here.ipynb"
    path = tmp_path / "nb" / source.name
    path.parent.mkdir()
    path.write_text(stamp_notebooks.stamped(source.read_text(encoding="utf-8"), source.name), encoding="utf-8")
    return path


def _run(tmp_path, notebook, where: str, extra_env: dict[str, str], work: Path | None = None):
    work = work or tmp_path / "work"  # the empty working directory (Colab's /content)
    work.mkdir(parents=True, exist_ok=True)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "OPTIM_THREADS", "OPTIM_REPO_URL", "KAGGLE_KERNEL_RUN_TYPE")}
    env.update(OPTIM_OFFLINE="1", OPTIM_DEVICE="cpu", **extra_env)
    result = subprocess.run([sys.executable, str(driver), str(notebook), where], cwd=work,
                            env=env, capture_output=True, text=True, timeout=120)
    return work, result


def _local_origin(tmp_path, dependencies: list[str] | None = None) -> str:
    """A git repository holding the working tree's utils/ and pyproject.toml (committed or not), as a file:// URL.
    Its first commit is tagged v9.9.9; ``main`` has one more commit, which adds the file LATER. ``dependencies``
    are appended to pyproject's."""
    origin = tmp_path / "origin"
    shutil.copytree(ROOT / "utils", origin / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for requirement in dependencies or []:
        pyproject = pyproject.replace("dependencies = [\n", f'dependencies = [\n    "{requirement}",\n', 1)
    (origin / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    git = ["git", "-C", str(origin), "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for args in (["init", "--quiet", "--initial-branch=main"], ["add", "--all"], ["commit", "--quiet", "-m", "v9.9.9"],
                 ["tag", "v9.9.9"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    (origin / "LATER").write_text("a commit after the release\n")
    for args in (["add", "--all"], ["commit", "--quiet", "-m", "later"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return origin.as_uri()


def _fake_colab(tmp_path) -> Path:
    fake = tmp_path / "fake_colab"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab\'s module."""\n')
    return fake


def _report(result) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # runs the first cell in a fresh Python process
def test_colab_clones_the_repository_and_imports_utils_from_it(tmp_path, stamped_notebook):
    url = _local_origin(tmp_path)
    env = {"PYTHONPATH": str(_fake_colab(tmp_path)), "OPTIM_REPO_URL": url}
    work, result = _run(tmp_path, stamped_notebook, "colab", env)
    report = _report(result)
    clone = work / bootstrap_cell.CLONE_DIR
    assert Path(report["utils"]).resolve() == (clone / "utils" / "__init__.py").resolve()
    assert Path(report["root"]) == clone
    revision = bootstrap_cell.revision()  # main while the version is a .dev one
    assert report["calls"] == [["git", "clone", "--quiet", "--depth=1", "--branch", revision, url, str(clone)]]
    assert report["calls_again"] == []  # nothing to pip-install: the venv has every declared dependency
    assert report["device"] == "cpu" and report["threads"] == 1


@pytest.mark.slow  # runs the first cell in a fresh Python process
def test_kaggle_clones_the_notebooks_revision_and_installs_what_is_missing(tmp_path):
    """On Kaggle (no google.colab), a notebook stamped for release v9.9.9 gets v9.9.9's code, not main's, and
    pip installs the one declared dependency the environment lacks."""
    source = ROOT / "notebooks" / "00_start_here.ipynb"
    notebook = tmp_path / "nb" / source.name
    notebook.parent.mkdir()
    notebook.write_text(stamp_notebooks.stamped(source.read_text(encoding="utf-8"), source.name, "v9.9.9"))
    url = _local_origin(tmp_path, dependencies=["not-installed-h4>=1.0"])
    work, result = _run(tmp_path, notebook, "kaggle", {"KAGGLE_KERNEL_RUN_TYPE": "Interactive", "OPTIM_REPO_URL": url})
    report = _report(result)
    clone = work / bootstrap_cell.CLONE_DIR
    assert Path(report["utils"]).resolve() == (clone / "utils" / "__init__.py").resolve()
    assert report["calls"][0] == ["git", "clone", "--quiet", "--depth=1", "--branch", "v9.9.9", url, str(clone)]
    assert not (clone / "LATER").exists()  # pinned: main's later commit is not there
    assert report["calls"][1][-4:] == ["pip", "install", "--quiet", "not-installed-h4>=1.0"]
    assert len(report["calls"]) == 2 and report["calls_again"] == []


@pytest.mark.slow  # runs the first cell in a fresh Python process
def test_a_failed_clone_stops_with_a_sentence(tmp_path, stamped_notebook):
    """A mistyped or unpublished repository: a sentence naming the address and revision, not CalledProcessError."""
    missing = (tmp_path / "no-such-repository").as_uri()
    work, result = _run(tmp_path, stamped_notebook, "colab",
                        {"PYTHONPATH": str(_fake_colab(tmp_path)), "OPTIM_REPO_URL": missing})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: Could not download the series' code") and missing in last, last
    assert "Internet on" in last and "CalledProcessError" not in result.stderr


@pytest.mark.slow  # runs the first cell in a fresh Python process
def test_a_utils_planted_in_a_parent_folder_is_not_imported(tmp_path, stamped_notebook):
    """Review G1: a notebook opened below /tmp (or a shared course folder) where someone planted utils/: the cell
    imports the installed package, and the planted code never runs."""
    planted = tmp_path / "shared" / "utils"
    planted.mkdir(parents=True)
    (planted / "training.py").write_text("")
    (planted / "__init__.py").write_text('import pathlib\npathlib.Path(__file__).with_name("PWNED").write_text("x")\n')
    work = tmp_path / "shared" / "alice" / "notebooks"  # even a folder named notebooks/
    _work, result = _run(tmp_path, stamped_notebook, "installed", {}, work=work)
    report = _report(result)
    assert Path(report["utils"]).resolve() == (ROOT / "utils" / "__init__.py").resolve()
    assert not (planted / "PWNED").exists()


@pytest.mark.slow  # runs the first cell in a fresh Python process
def test_c32_a_utils_planted_beside_notebooks_in_a_folder_anybody_may_write_is_not_imported(tmp_path, stamped_notebook):
    """Review C32: /tmp/course/ (world-writable) holds the learner's notebooks/ and somebody's utils/ beside it: the
    shape of a checkout, but not one; the cell imports the installed package and the planted code never runs."""
    shared = tmp_path / "course"
    planted = shared / "utils"
    planted.mkdir(parents=True)
    (planted / "training.py").write_text("")
    (planted / "__init__.py").write_text('import pathlib\npathlib.Path(__file__).with_name("PWNED").write_text("x")\n')
    shared.chmod(0o1777)  # as /tmp is: anybody may add files
    _work, result = _run(tmp_path, stamped_notebook, "installed", {}, work=shared / "notebooks")
    report = _report(result)
    assert Path(report["utils"]).resolve() == (ROOT / "utils" / "__init__.py").resolve()
    assert not (planted / "PWNED").exists()


@pytest.mark.slow  # runs the first cell in a fresh Python process
def test_the_checkout_holding_the_notebook_comes_first(tmp_path, stamped_notebook):
    """A second checkout (its notebooks/ is the working directory) uses its own utils, not the installed one."""
    checkout = tmp_path / "second-checkout"
    shutil.copytree(ROOT / "utils", checkout / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    _work, result = _run(tmp_path, stamped_notebook, "installed", {}, work=checkout / "notebooks")
    report = _report(result)
    assert Path(report["utils"]).resolve() == (checkout / "utils" / "__init__.py").resolve()
    assert Path(report["root"]) == checkout


@pytest.mark.slow  # runs the first cell in a fresh Python process
def test_outside_the_checkout_uses_the_installed_package(tmp_path, stamped_notebook):
    work, result = _run(tmp_path, stamped_notebook, "installed", {})
    assert result.returncode == 0, result.stderr[-3000:] + "\n(is the project installed? `make setup` does it)"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["utils"]).resolve() == (ROOT / "utils" / "__init__.py").resolve()
    assert Path(report["root"]).resolve() == ROOT  # notebook 07 finds scripts/ under it
    assert report["calls"] == [] and not any(work.iterdir())


@pytest.mark.slow  # runs the first cell in a fresh Python process
def test_nowhere_stops_with_what_to_do(tmp_path, stamped_notebook):
    work, result = _run(tmp_path, stamped_notebook, "nowhere", {})
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr and "make lab" in result.stderr and "pip install -e ." in result.stderr


def test_stamp_writes_the_hidden_titled_cell_and_is_idempotent(stamped_notebook):
    """The stamped first cell: the #@title line first (what JupyterLab shows of a hidden cell, Colab's form title),
    JupyterLab's source_hidden and Colab's form view in its metadata; stamping again changes nothing."""
    text = stamped_notebook.read_text(encoding="utf-8")
    first = next(c for c in json.loads(text)["cells"] if c["cell_type"] == "code")
    lines = "".join(first["source"]).splitlines()
    assert lines[0] == bootstrap_cell.MARK and lines[0].startswith("#@title Set-up:")
    assert first["metadata"]["jupyter"]["source_hidden"] is True and first["metadata"]["cellView"] == "form"
    assert stamp_notebooks.stamped(text, stamped_notebook.name) == text


def test_stamp_keeps_other_metadata_and_the_seed(tmp_path):
    """A cell that had other metadata (tags, outputs_hidden) keeps it; the seed of utils.setup survives."""
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# 99 · Title"]},
                    {"cell_type": "code", "execution_count": None, "outputs": [], "source": ["device = utils.setup(seed=7)"],
                     "metadata": {"tags": ["keep"], "jupyter": {"outputs_hidden": True}}}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = json.loads(stamp_notebooks.stamped(json.dumps(nb), "99_x.ipynb"))
    code = out["cells"][1]
    assert code["metadata"] == {"cellView": "form", "jupyter": {"outputs_hidden": True, "source_hidden": True},
                                "tags": ["keep"]}
    assert "".join(code["source"]) == bootstrap_cell.bootstrap_cell(7)
    assert bootstrap_cell.colab_badge("99_x.ipynb") in "".join(out["cells"][0]["source"])

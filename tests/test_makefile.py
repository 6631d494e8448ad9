"""The Makefile: a Python older than 3.10 stops at once, the tested versions are used by default, tests run
offline, and `make lab` works as root and without a browser. Each case runs make in a copy of the files the
Makefile reads, with stand-in interpreters, so nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@pytest.fixture
def tree(tmp_path):
    for name in ("Makefile", "requirements.txt", "pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _make(tree, *args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "OPTIM_"))}
    full_env.update(env or {})
    return subprocess.run(["make", "--no-print-directory", *args], cwd=tree, env=full_env, capture_output=True,
                          text=True, timeout=60)


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_old_python_stops_before_installing(tree):
    # a stand-in interpreter that runs what make gives it, but says it is Python 3.9
    fake = _script(tree / "py39" / "python", 'exec python3 -c "import sys; sys.version_info = (3, 9, 18); '
                   'sys.version = \'3.9.18 (stand-in)\'; exec(sys.argv[1])" "$2"\n')
    result = _make(tree, f"PYTHON={fake}", "VENV=venv", "setup")
    assert result.returncode != 0
    assert "needs Python 3.10 or newer" in result.stderr and "3.9.18" in result.stderr
    assert "make PYTHON=python3.12 lab" in result.stderr
    assert not (tree / "venv").exists(), "the guard must stop before the virtual environment is made"


def test_current_python_passes_the_guard(tree):
    assert _make(tree, "python-check").returncode == 0


def test_install_uses_the_constraints_by_default(tree):
    default = _make(tree, "-n", "setup").stdout
    assert "-r requirements.txt -c constraints.txt" in default
    assert "constraints.txt" not in _make(tree, "-n", "CONSTRAINTS=", "setup").stdout
    cpu = _make(tree, "-n", "TORCH=cpu", "setup").stdout
    assert "install --quiet torch torchvision --index-url https://download.pytorch.org/whl/cpu" in cpu
    assert "download.pytorch.org" not in default


def test_constraints_pin_the_tested_stack():
    pins = dict(line.split(";")[0].split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))  # a name with a Python 3.10 line: the last one wins
    for name in ("torch", "torchvision", "numpy", "scikit-learn", "matplotlib", "ipywidgets", "ruff"):
        assert name in pins, f"constraints.txt does not pin {name}"
    assert "ruff==" + pins["ruff"] in (ROOT / "requirements.txt").read_text(), "ruff is pinned exactly in both"
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def test_tests_run_offline(tree):
    # a stand-in virtual environment whose python reports OPTIM_OFFLINE; the stamp says it is installed
    _script(tree / "venv" / "bin" / "python", 'echo "OPTIM_OFFLINE=$OPTIM_OFFLINE"\n')
    os.utime(tree / "Makefile", (0, 0))
    for name in ("requirements.txt", "pyproject.toml", "constraints.txt"):
        os.utime(tree / name, (0, 0))
    (tree / "venv" / ".installed").touch()
    assert "OPTIM_OFFLINE=1" in _make(tree, "VENV=venv", "test").stdout


@pytest.mark.parametrize("display", ["", ":0"])
def test_lab_flags(tree, display):
    (tree / ".venv").mkdir()
    (tree / ".venv" / ".installed").touch()
    out = _make(tree, "-n", "lab", env={"DISPLAY": display} if display else {}).stdout
    assert ("--allow-root" in out) == (os.geteuid() == 0)
    if os.uname().sysname != "Darwin":
        assert ("--no-browser" in out) == (display == "")
        assert ("open the http://127.0.0.1" in out) == (display == "")


def test_lint_runs_the_pre_commit_hooks_with_the_venv_tools(tree):
    """`make lint` runs .pre-commit-config.yaml's hooks on every file, the venv's ruff and nbstripout first on PATH."""
    (tree / ".venv").mkdir()
    (tree / ".venv" / ".installed").touch()
    out = _make(tree, "-n", "lint").stdout
    assert f'PATH="{tree.resolve()}/.venv/bin:$PATH" .venv/bin/pre-commit run --all-files' in out


def test_notebook_opens_the_series_in_notebook_7(tree):
    (tree / ".venv").mkdir()
    (tree / ".venv" / ".installed").touch()
    out = _make(tree, "-n", "notebook").stdout
    assert ".venv/bin/jupyter notebook " in out and out.rstrip().endswith("notebooks/00_start_here.ipynb")

"""The declared package (pyproject.toml): its dependencies are what `utils` and the notebooks import, its extras
hold the tools, and requirements.txt (what `make` installs) lists the same lines."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# the module each declared distribution is imported as, where the two names differ
MODULE_OF = {"scikit-learn": "sklearn", "ipython": "IPython"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group(0)).lower()


def _requirements_txt() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def _third_party_imports(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "utils"}


def _imported_by_the_series() -> set[str]:
    """Top-level modules imported by utils/ and by the notebooks' code cells (magics and shell lines left out)."""
    modules = set()
    for path in (ROOT / "utils").rglob("*.py"):
        modules |= _third_party_imports(path.read_text(encoding="utf-8"))
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines(keepends=True)
                code = [ln[:len(ln) - len(ln.lstrip())] + "pass\n" if ln.lstrip().startswith(("%", "!")) else ln
                        for ln in lines]  # a magic inside an `if` leaves the block non-empty
                modules |= _third_party_imports("".join(code))
    return modules


def test_dependencies_cover_every_module_the_series_imports():
    """`pip install -e .` (and Colab's, Kaggle's, Binder's install) gets every module utils/ and the notebooks import."""
    declared = {MODULE_OF.get(_name(r), _name(r)) for r in PROJECT["dependencies"]}
    missing = _imported_by_the_series() - declared
    assert not missing, f"imported but not in pyproject.toml's dependencies: {sorted(missing)}"
    assert {"optuna", "tensorboard"} <= declared  # 05b and 06, which the Colab route once missed


def test_learners_do_not_get_the_tools():
    """The runtime dependencies hold no test, lint or front-end tool: those are in the test and dev extras."""
    tools = {"pytest", "nbmake", "ruff", "check-jsonschema", "nbstripout", "pre-commit", "jupyterlab", "notebook"}
    assert not tools & {_name(r) for r in PROJECT["dependencies"]}
    extras = PROJECT["optional-dependencies"]
    assert {_name(r) for r in extras["test"]} >= {"pytest", "nbmake", "ruff", "check-jsonschema", "nbstripout"}
    assert f"{PROJECT['name']}[test]" in extras["dev"]  # dev = test + the front ends + pre-commit
    assert {_name(r) for r in extras["dev"]} >= {"jupyterlab", "notebook", "pre-commit"}


def test_requirements_txt_is_the_dependencies_plus_the_extras():
    """requirements.txt (what `make` installs) holds exactly pyproject's lines: the same names, the same bounds."""
    declared = [*PROJECT["dependencies"], *(r for extra in PROJECT["optional-dependencies"].values() for r in extra
                                            if not r.startswith(PROJECT["name"]))]
    listed = _requirements_txt()
    assert sorted(listed) == sorted(declared), (
        "requirements.txt and pyproject.toml disagree:\n"
        f"  only in requirements.txt: {sorted(set(listed) - set(declared))}\n"
        f"  only in pyproject.toml:   {sorted(set(declared) - set(listed))}")
    assert len(listed) == len(set(listed)), "a line is repeated in requirements.txt"


def test_supported_pythons_agree():
    """requires-python's floor is ruff's target and the oldest Python the test workflow runs."""
    floor = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"]).group(1)
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["target-version"]
    assert ruff == f"py3{floor}"


def test_dependency_names_are_written_normalized():
    """The Colab/Kaggle bootstrap compares declared names with installed ones normalized (PEP 503): lowercase,
    hyphens. A name written otherwise (``Scikit_Learn``) would be installed again on every run."""
    for requirement in PROJECT["dependencies"]:
        written = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
        assert written == _name(requirement), f"write {written!r} as {_name(requirement)!r} in pyproject.toml"

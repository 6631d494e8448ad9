"""Repository hygiene: notebooks committed without outputs, the same bootstrap cell and a Colab badge in each,
relative links that resolve."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bootstrap_cell  # noqa: E402  (the canonical first cell)
import stamp_notebooks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: strip them before committing"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_the_bootstrap(path):
    nb = json.loads(path.read_text())
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = "".join(first_code["source"])
    assert source.startswith("#@title Set-up:") and "utils.setup(seed=" in source, (
        f"{path.name}: the first code cell is not the bootstrap: run `python scripts/stamp_notebooks.py`")
    seed = bootstrap_cell.SEED.search(source)
    assert source == bootstrap_cell.bootstrap_cell(int(seed.group(1))), (
        f"{path.name}: the first cell differs from scripts/bootstrap_cell.py: run `python scripts/stamp_notebooks.py`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_bootstrap_cell_is_hidden_but_named(path):
    """JupyterLab hides the cell and shows its first line; Colab shows it as a form under its #@title."""
    first_code = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    metadata = first_code.get("metadata", {})
    assert metadata.get("jupyter", {}).get("source_hidden") is True and metadata.get("cellView") == "form", (
        f"{path.name}: the first cell is not hidden (metadata {metadata}): run `python scripts/stamp_notebooks.py`")
    assert "".join(first_code["source"]).splitlines()[0] == bootstrap_cell.MARK


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_step_with_the_stamp(path):
    """What `python scripts/stamp_notebooks.py --check` checks: stamping would change nothing."""
    text = path.read_text(encoding="utf-8")
    assert stamp_notebooks.stamped(text, path.name) == text, (
        f"{path.name}: out of step with scripts/stamp_notebooks.py: run `python scripts/stamp_notebooks.py`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_its_colab_badge(path):
    first_markdown = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    assert bootstrap_cell.colab_badge(path.name) in "".join(first_markdown["source"]), (
        f"{path.name}: no Open-in-Colab badge: run `python scripts/stamp_notebooks.py`")


def test_readme_table_has_a_colab_badge_per_notebook():
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| ")]
    listed = {name: row for row in rows for name in re.findall(r"\]\(notebooks/([\w.]+\.ipynb)\)", row)}
    assert "00_start_here.ipynb" in listed
    missing = [name for name, row in listed.items() if bootstrap_cell.colab_badge(name) not in row]
    assert not missing, f"README's notebook table lacks the Colab badge of: {missing}"


LINK = re.compile(r"(?:\]\(|src=[\"'])([^)\"'#\s]+)")


def _markdown_files():
    files = [(p, "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
             for p in NOTEBOOKS for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "markdown"]
    files += [(p, p.read_text()) for p in ROOT.glob("*.md")]
    files += [(p, p.read_text()) for p in (ROOT / "docs").glob("*.md")] if (ROOT / "docs").is_dir() else []
    return files


def test_relative_links_resolve():
    broken = []
    for path, text in _markdown_files():
        for target in LINK.findall(text):
            if "://" in target or target.startswith(("mailto:", "data:")):  # data: an embedded diagram (test_images.py)
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert not broken, "broken relative links:\n" + "\n".join(broken)


def test_readme_states_the_torch_floor_of_requirements():
    """README's "torch 2.6 or newer" (review r5, objection 1: weights_only bypasses before 2.6) is the floor
    requirements.txt asks for."""
    floor = re.search(r"^torch>=([\d.]+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    stated = re.search(r"\*\*torch ([\d.]+) or newer\.\*\*", (ROOT / "README.md").read_text())
    assert floor and stated, "requirements.txt or README.md no longer states torch's minimum"
    assert floor.group(1) == stated.group(1), (
        f"README says torch {stated.group(1)} or newer, requirements.txt asks for torch>={floor.group(1)}")


def test_notebook_00_asks_for_the_torch_floor_of_requirements():
    """Notebook 00's version check (its assert and its message) asks for the torch that requirements.txt asks for
    (review r5, objection 1: 00 once asserted torch 2.3 while requirements.txt asked for 2.10)."""
    floor = re.search(r"^torch>=(\d+)\.(\d+)\b", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert floor, "requirements.txt no longer states torch's minimum as torch>=MAJOR.MINOR"
    wanted = (int(floor.group(1)), int(floor.group(2)))
    cells = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    check = re.findall(r"assert \(major, minor\) >= \((\d+), (\d+)\), \"this series needs torch (\d+)\.(\d+) or newer",
                       code)
    assert len(check) == 1, "notebook 00 no longer has exactly one torch version check of the expected form"
    asserted, stated = tuple(map(int, check[0][:2])), tuple(map(int, check[0][2:]))
    assert asserted == stated == wanted, (
        f"notebook 00 asserts torch >= {asserted} and says {stated}; requirements.txt asks for torch>={wanted}")


def test_every_notebook_names_the_torch_floor_of_requirements():
    """Wherever a notebook says "torch X.Y or newer" (or "or later"), X.Y is requirements.txt's floor, and that floor
    is no older than 2.10: before it the weights-only unpickler could be bypassed (CVE-2025-32434, fixed in 2.6;
    CVE-2026-24747, fixed in 2.10), which notebook 06's checkpoint loading relies on (review r5, objection 1)."""
    floor = re.search(r"^torch>=(\d+)\.(\d+)\b", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert floor, "requirements.txt no longer states torch's minimum as torch>=MAJOR.MINOR"
    wanted = (int(floor.group(1)), int(floor.group(2)))
    assert wanted >= (2, 10), f"requirements.txt asks for torch>={wanted}: older than 2.10, which fixed CVE-2026-24747"
    named = {}
    for path in NOTEBOOKS:
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])
        for major, minor in re.findall(r"torch (\d+)\.(\d+) or (?:newer|later)", text):
            named.setdefault((int(major), int(minor)), []).append(path.name)
    assert named, "no notebook names torch's minimum any more (00 did, in its version check)"
    wrong = {version: names for version, names in named.items() if version != wanted}
    assert not wrong, f"requirements.txt asks for torch>={wanted}, but these notebooks name another minimum: {wrong}"

"""Write the canonical bootstrap cell (scripts/bootstrap_cell.py) into every notebook, with its metadata (hidden in
JupyterLab, a form in Colab), and an "Open in Colab" badge under the title of its first markdown cell. Idempotent: running it twice changes nothing more.

    python scripts/stamp_notebooks.py [--check] [NOTEBOOK_DIR]     (default: notebooks/)

Each notebook keeps the seed its first cell passes to ``utils.setup(seed=...)``. The cell's ``REVISION`` and the
badge's link follow pyproject.toml's version (``bootstrap_cell.revision()``: ``main``, or a release's tag).
Only those two cells are touched; the notebook is written back as the repository keeps notebooks (JSON, indent 1, trailing newline).
``--check`` changes nothing and exits 1 if a notebook would change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap_cell import COLAB_BADGE_IMAGE, METADATA, SEED, bootstrap_cell, colab_badge  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _lines(text: str) -> list[str]:
    """A cell's source as Jupyter stores it: a list of lines, each but the last ending in a newline."""
    return text.splitlines(keepends=True)


def _with_badge(markdown: str, badge: str) -> str:
    """``markdown`` with ``badge`` on its own line under the title (an old badge line is replaced)."""
    lines = [line for line in markdown.split("\n") if COLAB_BADGE_IMAGE not in line]
    title, body = (lines[:1], lines[1:]) if lines and lines[0].startswith("#") else ([], lines)
    while body and body[0] == "":
        body.pop(0)
    return "\n".join([*title, *([""] if title else []), badge, "", *body])


def with_metadata(metadata: dict) -> dict:
    """``metadata`` with the bootstrap's keys (``METADATA``) merged in, one level deep; other keys are kept."""
    merged = dict(metadata)
    for key, value in METADATA.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return dict(sorted(merged.items()))  # as Jupyter writes them


def stamped(text: str, name: str, revision_: str | None = None) -> str:
    """The notebook JSON ``text`` (file ``name``) with the bootstrap cell and the badge written in, both at
    ``revision_`` (default: ``bootstrap_cell.revision()``, from pyproject.toml's version)."""
    nb = json.loads(text)
    cells = nb["cells"]
    code = next((c for c in cells if c["cell_type"] == "code"), None)
    if code is None:
        raise ValueError(f"{name}: no code cell to hold the bootstrap")
    found = SEED.search("".join(code["source"]))
    code["source"] = _lines(bootstrap_cell(int(found.group(1)) if found else 0, revision_))
    code["metadata"] = with_metadata(code.get("metadata", {}))
    markdown = next((c for c in cells if c["cell_type"] == "markdown"), None)
    if markdown is not None:
        markdown["source"] = _lines(_with_badge("".join(markdown["source"]), colab_badge(name, revision_)))
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def stamp(path: Path, *, write: bool = True) -> bool:
    """Stamp one notebook (only report with ``write=False``); returns whether it changes."""
    before = path.read_text(encoding="utf-8")
    after = stamped(before, path.name)
    if write and after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = parser.parse_args(argv)
    paths = sorted(args.folder.glob("*.ipynb"))
    if not paths:
        parser.error(f"no notebooks in {args.folder}")
    changed = [path.name for path in paths if stamp(path, write=not args.check)]
    verb = "would change" if args.check else "stamped"
    print(f"{verb}: {', '.join(changed) if changed else 'nothing'} ({len(paths)} notebooks)")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())

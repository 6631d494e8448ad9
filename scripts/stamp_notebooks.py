"""Write the canonical bootstrap cell (scripts/bootstrap_cell.py) into every notebook, with its metadata (hidden in
JupyterLab, a form in Colab), and an "Open in Colab" badge under the title of its first markdown cell; embed the
current bytes of each diagram in the markdown image under its ``<!-- image: FILE ... -->`` comment. Idempotent:
running it twice changes nothing more.

    python scripts/stamp_notebooks.py [--check] [NOTEBOOK_OR_DIR ...]     (default: notebooks/)

Each notebook keeps the seed its first cell passes to ``utils.setup(seed=...)``. The cell's ``REVISION`` and the
badge's link follow pyproject.toml's version (``bootstrap_cell.revision()``: ``main``, or a release's tag).

Diagrams are embedded as data URIs because Colab renders markdown in the browser, where a relative link such as
``../images/training_step.png`` finds no file (and Colab shows no ``attachment:`` images). A cell shows one as

    <!-- image: ../images/training_step.png (embedded by scripts/stamp_notebooks.py; ...) -->
    ![One training step: ...](data:image/png;base64,iVBORw0...)

FILE is relative to the notebook's folder; the PNG in images/ stays the source (``make images`` redraws it), and
this script copies its bytes into the image that follows the comment. A missing FILE is an error.

Only those cells are touched; the notebook is written back as the repository keeps notebooks (JSON, indent 1,
trailing newline). ``--check`` changes nothing and exits 1 if a notebook would change.
"""

from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap_cell import COLAB_BADGE_IMAGE, METADATA, SEED, bootstrap_cell, colab_badge  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

# the comment naming an embedded image's file, then (on the next line) the markdown image it fills in
COMMENT = "<!-- image: "
EMBEDDED = re.compile(r"(?P<head><!-- image: (?P<file>\S+)[^\n]*?-->\n!\[[^\]\n]*\]\()(?P<uri>[^)\s]*)\)")


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


def data_uri(path: Path) -> str:
    """The bytes of ``path`` as a ``data:`` URI, e.g. ``data:image/png;base64,iVBOR...``."""
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def with_images(markdown: str, folder: Path, where: str) -> str:
    """``markdown`` with each image under an ``<!-- image: FILE -->`` comment holding FILE's current bytes (FILE
    relative to ``folder``). ``where`` (notebook and cell) names the cell in the error for a missing file."""
    if markdown.count(COMMENT) != len(EMBEDDED.findall(markdown)):
        raise ValueError(f"{where}: each {COMMENT}FILE ... --> comment must be followed, on the next line, by the "
                         "image it names: ![alt text](data:...)")

    def embed(found: re.Match) -> str:
        path = folder / found["file"]
        if not path.is_file():
            raise ValueError(f"{where}: the image comment names {found['file']}, which does not exist "
                             f"(looked for {path}); run make images, or fix the comment")
        return f"{found['head']}{data_uri(path)})"

    return EMBEDDED.sub(embed, markdown)


def stamped(text: str, name: str, revision_: str | None = None, folder: Path = NOTEBOOKS) -> str:
    """The notebook JSON ``text`` (file ``name`` in ``folder``) with the bootstrap cell and the badge written in,
    both at ``revision_`` (default: ``bootstrap_cell.revision()``, from pyproject.toml's version), and each
    commented image embedded from its file (relative to ``folder``)."""
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
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            if COMMENT in source:
                cell["source"] = _lines(with_images(source, folder, f"{name}, cell {index}"))
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def stamp(path: Path, *, write: bool = True) -> bool:
    """Stamp one notebook (only report with ``write=False``); returns whether it changes."""
    before = path.read_text(encoding="utf-8")
    after = stamped(before, path.name, folder=path.parent)
    if write and after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[NOTEBOOKS], metavar="NOTEBOOK_OR_DIR",
                        help="notebooks, or folders of notebooks, to stamp (default: notebooks/)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = parser.parse_args(argv)
    paths = []
    for given in args.paths:
        if given.is_dir():
            paths += sorted(given.glob("*.ipynb"))
        elif given.suffix == ".ipynb" and given.is_file():
            paths.append(given)
        else:
            parser.error(f"{given} is neither a notebook nor a folder")
    if not paths:
        parser.error(f"no notebooks in {', '.join(map(str, args.paths))}")
    try:
        changed = [path.name for path in paths if stamp(path, write=not args.check)]
    except ValueError as error:
        parser.exit(2, f"stamp_notebooks.py: error: {error}\n")
    verb = "would change" if args.check else "stamped"
    print(f"{verb}: {', '.join(changed) if changed else 'nothing'} ({len(paths)} notebooks)")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())

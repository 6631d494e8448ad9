"""Build the reading copy of the series: run every notebook (on a copy) and render it as HTML.

    python scripts/build_book.py                        # all notebooks, executed, into build/book/
    python scripts/build_book.py --no-execute           # render without running them (fast)
    python scripts/build_book.py --out /tmp/book 01 06  # only notebooks 01 and 06 (number, name or path)

``make book`` runs the first form. The files in notebooks/ are never modified: each notebook is read into
memory, executed there with its own folder as the working directory (as Jupyter and nbmake do), and written
to the output folder twice, as an executed ``.ipynb`` and as an ``.html`` page (nbconvert's HTMLExporter).
``images/`` is copied into the output folder and the relative links of every markdown cell are rewritten for
the new place: a link to another notebook of the book goes to its page, a link into ``images/`` to the copy,
any other relative link to the file where it is. ``index.html`` links the pages in order.

Exit status: 0 when every notebook ran (or --no-execute), 1 when one failed; its page is still written,
with the outputs up to the error, and the index marks it.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
IMAGES_DIR = ROOT / "images"
DEFAULT_OUT = ROOT / "build" / "book"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}

# a markdown link or image target: [text](target) / ![alt](target "title"); and src= / href= in inline HTML
MARKDOWN_LINK = re.compile(r"(\]\(\s*<?)([^)\s>]+)")
HTML_LINK = re.compile(r"""((?:src|href)\s*=\s*["'])([^"']+)""")


@dataclass
class Page:
    """One notebook of the book and what happened to it."""

    source: Path
    html_name: str
    title: str = ""
    summary: str = ""
    status: str = "not executed"
    seconds: float = 0.0
    failed: bool = False


# ----------------------------------------------------------------------------------------------- choosing notebooks
def find_notebooks(selection: list[str] | None = None, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks to include, in the series' order (by file name): all of ``notebooks_dir`` when ``selection``
    is empty, else each item as a path to a notebook, a file name (``06_putting_it_all_together.ipynb``), a name
    without ``.ipynb`` or a prefix such as ``06``."""
    available = sorted(notebooks_dir.glob("*.ipynb"))
    if not selection:
        if not available:
            raise ValueError(f"no notebooks (*.ipynb) in {notebooks_dir}")
        return available
    chosen: list[Path] = []
    for item in selection:
        path = Path(item)
        if path.suffix == ".ipynb" and path.is_file():
            matches = [path.resolve()]
        else:
            stem = path.name.removesuffix(".ipynb")
            matches = [p for p in available if p.stem == stem] or [p for p in available if p.stem.startswith(stem)]
        if len(matches) != 1:
            names = ", ".join(p.stem for p in available) or "none"
            problem = "matches no notebook" if not matches else f"matches {len(matches)} notebooks"
            raise ValueError(f"notebook {item!r} {problem}; give a path, a name or a unique prefix. Available: {names}")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return sorted(chosen, key=lambda p: (p.name, str(p)))


# ----------------------------------------------------------------------------------------------- links
def rewrite_target(target: str, notebook_dir: Path, out_dir: Path, pages: dict[Path, str],
                   images_dir: Path = IMAGES_DIR) -> str:
    """Where a relative link written in a notebook in ``notebook_dir`` must point from a page in ``out_dir``.

    Absolute URLs, ``data:`` URIs and in-page anchors are returned unchanged.
    """
    if not target or target.startswith(("#", "/", "data:", "mailto:")) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", target):
        return target
    path_part, hash_sign, anchor = target.partition("#")
    if not path_part:
        return target
    resolved = Path(os.path.normpath(notebook_dir / path_part))
    if resolved in pages:
        return pages[resolved] + hash_sign + anchor
    if resolved.is_relative_to(images_dir):
        return "images/" + resolved.relative_to(images_dir).as_posix() + hash_sign + anchor
    return Path(os.path.relpath(resolved, out_dir)).as_posix() + hash_sign + anchor


def rewrite_links(text: str, notebook_dir: Path, out_dir: Path, pages: dict[Path, str],
                  images_dir: Path = IMAGES_DIR) -> str:
    """Rewrite every markdown and inline-HTML link target in ``text`` with ``rewrite_target``."""
    def replace(match: re.Match) -> str:
        return match.group(1) + rewrite_target(match.group(2), notebook_dir, out_dir, pages, images_dir)

    return HTML_LINK.sub(replace, MARKDOWN_LINK.sub(replace, text))


def copy_images(out_dir: Path, images_dir: Path = IMAGES_DIR) -> int:
    """Copy the image files of ``images_dir`` (not the scripts that draw them) to ``out_dir/images``."""
    copied = 0
    if not images_dir.is_dir():
        return copied
    for path in sorted(images_dir.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            target = out_dir / "images" / path.relative_to(images_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied += 1
    return copied


# ----------------------------------------------------------------------------------------------- one notebook
def _plain(markdown: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # links and images: keep the words
    return re.sub(r"[*_`]", "", text).strip()


def describe(nb: nbformat.NotebookNode, fallback: str) -> tuple[str, str]:
    """The notebook's title (its first ``# heading``) and first paragraph, as plain text."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        blocks = [b.strip() for b in cell.source.split("\n\n") if b.strip()]
        if blocks and blocks[0].startswith("# "):
            title = _plain(blocks[0].splitlines()[0][2:])
            summary = next((_plain(" ".join(b.split())) for b in blocks[1:]
                            if not b.startswith(("#", "!", "|", "-", "1."))), "")
            return title, summary
    return fallback, ""


def execute(nb: nbformat.NotebookNode, working_dir: Path, *, timeout: int, kernel_name: str) -> str | None:
    """Run every cell of ``nb`` in place (outputs are stored in it); return None, or what went wrong."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(working_dir)}})
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        lines = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", str(err)).splitlines() if line.strip()]
        return lines[-1][:300] if lines else type(err).__name__
    return None


def render_html(nb: nbformat.NotebookNode, title: str) -> str:
    """The notebook as a standalone HTML page (nbconvert's HTMLExporter, lab template)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def build_page(page: Page, out_dir: Path, pages: dict[Path, str], *, run: bool, timeout: int, kernel_name: str,
               images_dir: Path = IMAGES_DIR) -> Page:
    """Read, (execute,) relink and render one notebook; write ``.ipynb`` and ``.html`` into ``out_dir``."""
    nb = nbformat.read(page.source, as_version=4)
    page.title, page.summary = describe(nb, page.source.stem)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, page.source.parent, out_dir, pages, images_dir)
    if run:
        start = time.perf_counter()
        error = execute(nb, page.source.parent, timeout=timeout, kernel_name=kernel_name)
        page.seconds = time.perf_counter() - start
        page.failed = error is not None
        page.status = f"FAILED: {error}" if error else f"executed in {page.seconds:.0f} s"
    nbformat.write(nb, out_dir / page.source.name)
    (out_dir / page.html_name).write_text(render_html(nb, page.title), encoding="utf-8")
    return page


# ----------------------------------------------------------------------------------------------- the index
INDEX_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 52rem; margin: 2.5rem auto;
       padding: 0 1rem; line-height: 1.5; color: #1f2328; }
h1 { margin-bottom: 0.2rem; }
ol { padding-left: 1.4rem; }
li { margin: 1rem 0; }
.status { color: #59636e; font-size: 0.85rem; }
.failed { color: #b3261e; font-weight: 600; }
"""


def write_index(out_dir: Path, pages: list[Page], *, title: str = "Optimizing Model Parameters") -> Path:
    """``index.html``: the pages in order, with each notebook's first paragraph and how its build went."""
    items = []
    for page in pages:
        css = "status failed" if page.failed else "status"
        items.append(
            f'<li><a href="{html.escape(page.html_name)}"><strong>{html.escape(page.title)}</strong></a>'
            f'<br>{html.escape(page.summary)}'
            f'<br><span class="{css}">{html.escape(page.source.name)}: {html.escape(page.status)}</span></li>'
        )
    built = time.strftime("%Y-%m-%d %H:%M")
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{INDEX_STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>A reading copy of the notebook series, built {built}. Read the pages in order; to run and change the code,
open the notebooks themselves in Jupyter.</p>
<ol>
{chr(10).join(items)}
</ol>
</body>
</html>
"""
    path = out_dir / "index.html"
    path.write_text(document, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute the notebooks (copies) and render an HTML reading copy.")
    parser.add_argument("notebooks", nargs="*", help="notebooks to include: paths, names or prefixes such as 06 "
                                                     "(default: every notebook in notebooks/)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--no-execute", action="store_true", help="render the notebooks as they are, without running them")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default: 600)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel to run them with (default: python3)")
    args = parser.parse_args(argv)
    if args.timeout < 1:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    try:
        sources = find_notebooks(args.notebooks)
    except ValueError as err:
        parser.error(str(err))

    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = [Page(source=path, html_name=path.with_suffix(".html").name) for path in sources]
    links = {page.source: page.html_name for page in pages}
    images = copy_images(out_dir)
    print(f"Building {len(pages)} page(s) into {out_dir} ({images} image(s) copied); "
          + ("not executing." if args.no_execute else "executing each notebook on a copy."), flush=True)
    for page in pages:
        build_page(page, out_dir, links, run=not args.no_execute, timeout=args.timeout, kernel_name=args.kernel)
        print(f"  {page.html_name:40s} {page.status}", flush=True)
    index = write_index(out_dir, pages)
    failed = [page.source.name for page in pages if page.failed]
    print(f"Open {index}" + (f"\n{len(failed)} notebook(s) failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

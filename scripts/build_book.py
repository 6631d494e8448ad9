"""Build the reading copy of the series: nbconvert runs every notebook (on a copy) and renders it as HTML.

    python scripts/build_book.py                         # every notebook, executed, into build/book/
    python scripts/build_book.py --no-execute            # render without running them (fast)
    python scripts/build_book.py --out /tmp/book notebooks/01_optimization_loops.ipynb

``make book`` runs the first form; .github/workflows/book.yml runs it in CI and publishes build/book/ as a
static site. nbconvert does the work: ``ExecutePreprocessor`` runs each notebook in memory with its own folder
as the working directory (as Jupyter and nbmake do; notebooks/ is never modified), ``HTMLExporter`` renders it.
This script adds only what nbconvert lacks:

- **formulas offline**: MathJax 3 is fetched once from the npm registry (``npm pack mathjax@3.2.2``, cached in
  build/), copied next to the pages, and the pages load that copy, so the book shows typeset formulas without
  internet (a classroom, a train). Without npm it falls back to MathJax from a CDN and says so.
- **links between pages**: a markdown link to ``04_optimizers.ipynb`` becomes ``04_optimizers.html``. The book
  keeps the repository's layout (``notebooks/*.html`` beside ``images/``), so image links resolve unchanged.
- **an index page** listing the notebooks in order, with each one's first paragraph and how its build went.
- **how the claims held**: ``docs/robustness.md`` (written by ``make robustness``: every claim over seeds, datasets
  and CPU kernels) becomes ``robustness.html``, linked from the index.

Exit status: 0 when every notebook ran (or --no-execute), 1 when one failed; its page is still written, with
the outputs up to the error, and the index marks it.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
IMAGES_DIR = ROOT / "images"
DEFAULT_OUT = ROOT / "build" / "book"

MATHJAX_VERSION = "3.2.2"
MATHJAX_CACHE = ROOT / "build" / f"mathjax-{MATHJAX_VERSION}"
MATHJAX_SCRIPT = "tex-chtml-full.js"
# what the pages need from the npm package: the TeX-to-HTML component, its fonts, and the licence
MATHJAX_FILES = (f"es5/{MATHJAX_SCRIPT}", "es5/output/chtml/fonts/woff-v2/", "LICENSE")
MATHJAX_CDN = f"https://cdn.jsdelivr.net/npm/mathjax@{MATHJAX_VERSION}/es5/{MATHJAX_SCRIPT}"

# nbconvert's lab template with its MathJax 2 configuration replaced by MathJax 3's (same delimiters), and
# without the two scripts it loads from CDNs for widgets (require.js, the widget renderer): a widget needs a
# running kernel anyway, and the page shows its text form
TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams'},
  options: {ignoreHtmlClass: 'tex2jax_ignore', processHtmlClass: 'tex2jax_process'}
};
</script>
<script defer src="{{ resources.mathjax_url }}"></script>
{%- endblock html_head_js_mathjax -%}
"""

# a relative link to a notebook in markdown, [text](02_x.ipynb#part), or in inline HTML, href="02_x.ipynb"
NOTEBOOK_LINK = re.compile(r"""(\]\(\s*<?|href\s*=\s*["'])((?![a-zA-Z][a-zA-Z0-9+.-]*:)[^)\s>"'#]+)\.ipynb""")


@dataclass
class Page:
    """One notebook of the book and what happened to it."""

    source: Path
    title: str = ""
    summary: str = ""
    status: str = "not executed"
    failed: bool = False

    @property
    def html_name(self) -> str:
        return f"notebooks/{self.source.stem}.html"


# ----------------------------------------------------------------------------------------------- MathJax
def fetch_mathjax(cache: Path = MATHJAX_CACHE, version: str = MATHJAX_VERSION) -> Path | None:
    """The folder holding MathJax's files (``MATHJAX_FILES``), fetched with ``npm pack`` on first use; None when
    npm is missing or the registry cannot be reached."""
    if (cache / "es5" / MATHJAX_SCRIPT).is_file():
        return cache
    npm = shutil.which("npm")
    if npm is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([npm, "pack", f"mathjax@{version}", "--pack-destination", tmp, "--silent"],
                              capture_output=True, text=True, timeout=300)
        archives = list(Path(tmp).glob("mathjax-*.tgz"))
        if done.returncode != 0 or not archives:
            print(f"npm pack mathjax@{version} failed: {(done.stderr or done.stdout).strip()[:300]}", file=sys.stderr)
            return None
        partial = cache.with_name(cache.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(archives[0]) as archive:  # only the files the pages need, never outside `partial`
            for member in archive.getmembers():
                name = member.name.removeprefix("package/")
                if member.isfile() and name.startswith(MATHJAX_FILES) and ".." not in Path(name).parts:
                    (partial / name).parent.mkdir(parents=True, exist_ok=True)
                    (partial / name).write_bytes(archive.extractfile(member).read())
    shutil.rmtree(cache, ignore_errors=True)
    partial.rename(cache)
    return cache


def copy_mathjax(source: Path, out_dir: Path) -> str:
    """Copy MathJax's files from ``source`` into ``out_dir/mathjax``; return the script's URL as the pages see it."""
    script = source / "es5" / MATHJAX_SCRIPT
    if not script.is_file():
        raise FileNotFoundError(f"{source} does not hold MathJax 3 ({script.relative_to(source)} is missing); "
                                f"give the folder of an unpacked `npm pack mathjax@{MATHJAX_VERSION}`")
    target = out_dir / "mathjax"
    shutil.rmtree(target, ignore_errors=True)
    for name in MATHJAX_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        elif (source / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)
    return f"../mathjax/es5/{MATHJAX_SCRIPT}"


# ----------------------------------------------------------------------------------------------- one notebook
def relink(text: str) -> str:
    """Point relative links to notebooks at their pages: ``04_optimizers.ipynb#part`` -> ``04_optimizers.html#part``."""
    return NOTEBOOK_LINK.sub(r"\1\2.html", text)


def _plain(markdown: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # links and images: keep the words
    return re.sub(r"[*_`]", "", text).strip()


def describe(nb: nbformat.NotebookNode, fallback: str) -> tuple[str, str]:
    """The notebook's title (its first ``# heading``) and first paragraph, as plain text."""
    for cell in nb.cells:
        blocks = [b.strip() for b in cell.source.split("\n\n") if b.strip()] if cell.cell_type == "markdown" else []
        if blocks and blocks[0].startswith("# "):
            title = _plain(blocks[0].splitlines()[0][2:])
            summary = next((_plain(" ".join(b.split())) for b in blocks[1:]
                            if not b.startswith(("#", "!", "|", "-", "1."))), "")
            return title, summary
    return fallback, ""


def execute(nb: nbformat.NotebookNode, working_dir: Path, *, timeout: int, kernel_name: str) -> str | None:
    """Run every cell of ``nb`` in place with nbconvert's ExecutePreprocessor; return None, or what went wrong."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

    try:
        ExecutePreprocessor(timeout=timeout, kernel_name=kernel_name).preprocess(
            nb, {"metadata": {"path": str(working_dir)}})
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        lines = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", str(err)).splitlines() if line.strip()]
        return lines[-1][:300] if lines else type(err).__name__
    return None


def build_page(page: Page, out_dir: Path, *, run: bool, timeout: int, kernel_name: str, mathjax_url: str) -> Page:
    """Read, (execute,) relink and render one notebook; write ``.ipynb`` and ``.html`` into ``out_dir/notebooks``."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = nbformat.read(page.source, as_version=4)
    page.title, page.summary = describe(nb, page.source.stem)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = relink(cell.source)
    if run:
        start = time.perf_counter()
        error = execute(nb, page.source.parent, timeout=timeout, kernel_name=kernel_name)
        page.failed = error is not None
        page.status = f"FAILED: {error}" if error else f"executed in {time.perf_counter() - start:.0f} s"
    for cell in nb.cells:  # a cell hidden in JupyterLab (the set-up cell) shows only its outputs in the book too
        if cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
            cell.metadata.setdefault("transient", {})["remove_source"] = True
    exporter = HTMLExporter(template_name="lab", template_file="book.html.j2", mathjax_url=mathjax_url,
                            extra_loaders=[DictLoader({"book.html.j2": TEMPLATE})])
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": page.title}})
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / "notebooks" / page.source.name)
    (out_dir / page.html_name).write_text(body, encoding="utf-8")
    return page


# ----------------------------------------------------------------------------------------------- the index
INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 52rem; margin: 2.5rem auto;
       padding: 0 1rem; line-height: 1.5; color: #1f2328; }}
li {{ margin: 1rem 0; }}
.status {{ color: #59636e; font-size: 0.85rem; }}
.failed {{ color: #b3261e; font-weight: 600; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>A reading copy of the notebook series, built {built}: every notebook run top to bottom, with its outputs.
Read the pages in order; to run and change the code, open the notebooks themselves in Jupyter.</p>
<ol>
{items}
</ol>
{extra}
</body>
</html>
"""


ROBUSTNESS_MD = ROOT / "docs" / "robustness.md"
PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; font-size: 0.9rem; }} td, th {{ border: 1px solid #ccc; padding: 0.2rem 0.4rem; }}
</style></head>
<body><p><a href="index.html">Back to the series</a></p>
{body}
</body></html>
"""


def write_robustness_page(out_dir: Path, source: Path = ROBUSTNESS_MD) -> Path | None:
    """``robustness.html`` from ``docs/robustness.md`` (the per-claim table of ``make robustness``), if it exists."""
    if not source.is_file():
        return None
    from nbconvert.filters import markdown2html

    path = out_dir / "robustness.html"
    path.write_text(PAGE.format(title="How the claims held", body=markdown2html(source.read_text(encoding="utf-8"))),
                    encoding="utf-8")
    return path


def write_index(out_dir: Path, pages: list[Page], *, title: str = "Optimizing Model Parameters") -> Path:
    """``index.html``: the pages in order, with each notebook's first paragraph and how its build went."""
    items = [f'<li><a href="{html.escape(p.html_name)}"><strong>{html.escape(p.title)}</strong></a>'
             f'<br>{html.escape(p.summary)}<br><span class="status{" failed" if p.failed else ""}">'
             f'{html.escape(p.source.name)}: {html.escape(p.status)}</span></li>' for p in pages]
    extra = ""
    if write_robustness_page(out_dir) is not None:
        extra = ('<p><a href="robustness.html">How the claims held</a>: every checked claim of the notebooks over '
                 "10+ seeds, two datasets and three CPU kernel settings, with its smallest margin.</p>")
    path = out_dir / "index.html"
    path.write_text(INDEX.format(title=html.escape(title), built=time.strftime("%Y-%m-%d %H:%M"),
                                 items="\n".join(items), extra=extra), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute the notebooks (copies) and render an HTML reading copy.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to include (default: notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--no-execute", action="store_true", help="render the notebooks as they are, without running them")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default: 600)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel to run them with (default: python3)")
    parser.add_argument("--mathjax", type=Path, default=None,
                        help=f"an unpacked MathJax {MATHJAX_VERSION} npm package (default: fetch it with npm into "
                             f"{MATHJAX_CACHE.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if args.timeout < 1:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    sources = args.notebooks or sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    missing = [str(p) for p in sources if p.suffix != ".ipynb" or not p.is_file()]
    if missing or not sources:
        parser.error(f"not a notebook file: {', '.join(missing)}" if missing else f"no notebooks in {NOTEBOOKS_DIR}")

    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if IMAGES_DIR.is_dir():  # the pages link ../images/..., as the notebooks do
        shutil.copytree(IMAGES_DIR, out_dir / "images", dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py"))
    mathjax = args.mathjax or fetch_mathjax()
    if mathjax is None:
        mathjax_url = MATHJAX_CDN
        print(f"warning: no local MathJax (needs npm and the npm registry once); the pages load it from {MATHJAX_CDN}, "
              "so formulas show as raw LaTeX without internet", file=sys.stderr)
    else:
        mathjax_url = copy_mathjax(mathjax, out_dir)
    pages = [Page(source=path.resolve()) for path in sources]
    print(f"Building {len(pages)} page(s) into {out_dir}; "
          + ("not executing." if args.no_execute else "executing each notebook on a copy."), flush=True)
    for page in pages:
        build_page(page, out_dir, run=not args.no_execute, timeout=args.timeout, kernel_name=args.kernel,
                   mathjax_url=mathjax_url)
        print(f"  {page.html_name:45s} {page.status}", flush=True)
    index = write_index(out_dir, pages)
    failed = [page.source.name for page in pages if page.failed]
    print(f"Open {index}" + (f"\n{len(failed)} notebook(s) failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

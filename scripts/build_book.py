"""Build the reading copy of the series with Jupyter Book 1.x (Sphinx, sphinx-book-theme, myst-nb) into build/book/.

    python scripts/build_book.py                  # every notebook executed (cached in build/.jupyter_cache)
    python scripts/build_book.py --no-execute     # render them as they are (fast)
    python scripts/build_book.py --out /tmp/book

``make book`` runs the first form (Jupyter Book comes with ``make setup``: pyproject.toml's book extra);
.github/workflows/book.yml runs it in CI and publishes build/book/. The book itself is configuration:
book/_config.yml (execution that fails the build when a notebook fails, Colab and Binder launch buttons, search,
MathJax from a local copy), book/_toc.yml (the pages in the series' order, then docs/robustness.md) and
book/hidden_cells.py (a cell hidden in JupyterLab shows only its outputs). This driver adds two things:

- **formulas offline**: MathJax 3 is fetched once from the npm registry (``npm pack mathjax@3.2.2``, cached in
  build/book-static/, which _config.yml's ``html_static_path`` ships in the book's _static/), so the pages typeset
  formulas without internet. Without npm it falls back to MathJax from a CDN and says so.
- **the output folder**: the pages go straight into build/book/ (``jupyter-book build`` would write
  ``<folder>/_build/html``).

Exit status: 0 when the book was built, 1 when a notebook failed (or Sphinx stopped).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "book" / "_config.yml"
TOC = ROOT / "book" / "_toc.yml"
DEFAULT_OUT = ROOT / "build" / "book"

MATHJAX_VERSION = "3.2.2"
MATHJAX_STATIC = ROOT / "build" / "book-static"  # _config.yml: html_static_path; its content lands in _static/
MATHJAX_CACHE = MATHJAX_STATIC / f"mathjax-{MATHJAX_VERSION}"
MATHJAX_SCRIPT = "tex-chtml-full.js"  # _config.yml: mathjax_path = mathjax-3.2.2/es5/tex-chtml-full.js
# what the pages need from the npm package: the TeX-to-HTML component, its fonts, and the licence
MATHJAX_FILES = (f"es5/{MATHJAX_SCRIPT}", "es5/output/chtml/fonts/woff-v2/", "LICENSE")
MATHJAX_CDN = f"https://cdn.jsdelivr.net/npm/mathjax@{MATHJAX_VERSION}/es5/{MATHJAX_SCRIPT}"


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the series' book (Jupyter Book) into an HTML folder.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--no-execute", action="store_true", help="render the notebooks as they are, without running them")
    parser.add_argument("--source", type=Path, default=ROOT, help="the book's source folder (default: the repository)")
    parser.add_argument("--toc", type=Path, default=TOC, help=f"table of contents (default: {TOC.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    from jupyter_book.sphinx import build_sphinx  # after --help works without it

    overrides = {"external_toc_path": args.toc.resolve().as_posix(), "latex_individualpages": False,
                 # absolute, so that a --source elsewhere (the tests) ships the same copy
                 "html_static_path": [MATHJAX_STATIC.as_posix()]}
    if args.no_execute:
        overrides["nb_execution_mode"] = "off"
    if fetch_mathjax() is None:
        overrides["mathjax_path"] = MATHJAX_CDN
        print(f"warning: no local MathJax (needs npm and the npm registry once); the pages load it from {MATHJAX_CDN}, "
              "so formulas show as raw LaTeX without internet", file=sys.stderr)
    out = args.out.resolve()
    result = build_sphinx(args.source.resolve(), out, path_config=CONFIG, confoverrides=overrides,
                          doctreedir=out.parent / f".{out.name}-doctrees", noconfig=True, builder="html")
    if isinstance(result, BaseException) or result:
        print(f"The book failed to build: {result}", file=sys.stderr)
        return 1
    print(f"Open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

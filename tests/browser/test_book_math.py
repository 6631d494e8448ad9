"""The reading copy (Jupyter Book through scripts/build_book.py, `make book`) shows typeset formulas with no network
at all: Sphinx's mathjax_path points at the MathJax copy shipped in the book's _static/.

Run with `make browser-test` (chromium and playwright: see conftest.py). Kept out of the default run
(pyproject.toml: norecursedirs) because it needs a browser. Its screenshots go to build/browser/.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import SCREENSHOTS, launch_chromium
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"

spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
build_book = importlib.util.module_from_spec(spec)
sys.modules.setdefault("build_book", build_book)
spec.loader.exec_module(build_book)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """A book of two pages: a tiny notebook with known formulas, and notebook 02 (the most formulas), not executed."""
    if importlib.util.find_spec("jupyter_book") is None:
        pytest.skip("needs Jupyter Book (make setup installs it: pyproject.toml's book extra)")
    if build_book.fetch_mathjax() is None:
        pytest.skip("MathJax could not be fetched (needs npm and the npm registry once)")
    source = tmp_path_factory.mktemp("source")
    tiny = new_notebook(cells=[
        new_markdown_cell("# Formulas\n\nA quadratic $f(w) = \\tfrac{a}{2} w^2$ has the gradient $f'(w) = a w$.\n\n"
                          "$$w_{t+1} = w_t - \\eta \\, \\nabla L(w_t)$$\n\nNext: [loss functions](02_loss_functions.ipynb)."),
        new_code_cell("print('no math in code: $x$ stays as it is')"),
    ])
    tiny.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    (source / "notebooks").mkdir()
    nbformat.write(tiny, source / "notebooks" / "formulas.ipynb")
    shutil.copy(ROOT / "notebooks" / "02_loss_functions.ipynb", source / "notebooks")
    shutil.copytree(ROOT / "images", source / "images")
    (source / "intro.md").write_text("# Formulas offline\n")
    toc = source / "_toc.yml"
    toc.write_text("format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/formulas\n"
                   "  - file: notebooks/02_loss_functions\n")
    out = tmp_path_factory.mktemp("book") / "out"
    assert build_book.main(["--no-execute", "--source", str(source), "--toc", str(toc), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def browser_page(playwright, tmp_path_factory):
    """A chromium page with a fresh profile that may load file:// URLs only; other requests are refused and kept."""
    context = launch_chromium(playwright, tmp_path_factory.mktemp("profile"), viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.refused, page.failed = [], []

    def route(request_route):
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            page.refused.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page.on("requestfailed", lambda request: page.failed.append(request.url))
    yield page
    context.close()


def typeset(page, path: Path) -> dict:
    page.refused.clear()
    page.failed.clear()
    page.goto(path.as_uri())
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    page.evaluate("() => MathJax.startup.promise")
    return page.evaluate("""() => ({
        formulas: document.querySelectorAll('mjx-container').length,
        errors: document.querySelectorAll('mjx-merror').length,
        markdown: [...document.querySelectorAll('article.bd-article')].map(e => {
            const copy = e.cloneNode(true);  // the page's text, without code cells, formulas and code
            copy.querySelectorAll('.cell, mjx-container, code, pre').forEach(m => m.remove());
            return copy.textContent;
        }).join('\\n'),
        code: [...document.querySelectorAll('.cell_input pre')].map(e => e.textContent).join('\\n'),
    })""")


def test_formulas_are_typeset_offline_by_the_copy_shipped_with_the_book(book, browser_page):
    assert (book / "_static" / build_book.MATHJAX_CACHE.name / "LICENSE").is_file()  # Apache-2.0: the licence travels
    found = typeset(browser_page, book / "notebooks" / "formulas.html")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_page.screenshot(path=str(SCREENSHOTS / "book_formulas.png"), full_page=True)
    assert found["formulas"] == 3 and found["errors"] == 0
    assert "$" not in found["markdown"] and "tfrac" not in found["markdown"]  # no raw LaTeX left
    assert "$x$" in found["code"]  # code cells are not typeset
    assert browser_page.locator("mjx-container[display='true']").count() == 1  # the $$...$$ block
    assert browser_page.get_by_role("link", name="loss functions", exact=True).get_attribute("href") == "02_loss_functions.html"
    assert browser_page.refused == [] and browser_page.failed == []  # nothing from the network, nothing missing


def test_a_real_page_has_no_raw_latex_left(book, browser_page):
    found = typeset(browser_page, book / "notebooks" / "02_loss_functions.html")
    browser_page.screenshot(path=str(SCREENSHOTS / "book_02_loss_functions.png"))
    assert found["formulas"] > 20 and found["errors"] == 0
    assert "$" not in found["markdown"]
    # the only thing a notebook page asks of the network is its "Open in Colab" badge (an image: harmless offline)
    assert set(browser_page.refused) <= {COLAB_BADGE} and set(browser_page.failed) <= {COLAB_BADGE}

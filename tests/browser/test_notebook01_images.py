"""Notebook 01's diagrams show where the notebook's files are out of reach, as on Colab: there the markdown is
rendered in the browser, which sees none of the cloned repository, so ``../images/x.png`` shows nothing. The
notebook embeds each diagram as a data URI (scripts/stamp_notebooks.py; tests/test_images.py checks the bytes).

The notebook is exported to HTML with nbconvert into a temporary folder with no images/ beside it, opened from
file:// with every network request refused, and each image of its markdown must have loaded (naturalWidth > 0).
The second test does the same with the old relative link and sees the image missing: the check can fail.

Run with `make browser-test` (chromium and playwright: see conftest.py). Screenshots go to build/browser/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from conftest import SCREENSHOTS, launch_chromium
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "01_optimization_loops.ipynb"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
EMBEDDED = re.compile(r"<!-- image: (\S+)[^\n]*-->\n(!\[[^\]]*\])\(data:[^)]*\)")


@pytest.fixture(scope="module")
def browser_page(playwright, tmp_path_factory):
    """A chromium page that may load file:// and data: URLs only; other requests (nbconvert's page asks for
    require.js and MathJax, and the badge) are refused."""
    context = launch_chromium(playwright, tmp_path_factory.mktemp("profile"), viewport={"width": 1200, "height": 900})
    page = context.new_page()

    def route(request_route):
        if request_route.request.url.startswith(("file://", "data:")):
            request_route.continue_()
        else:
            request_route.abort()

    context.route("**/*", route)
    yield page
    context.close()


def exported(notebook: dict, folder: Path) -> Path:
    """``notebook`` as nbconvert's HTML page, alone in ``folder``: no images/ beside it or above it."""
    folder.mkdir(parents=True)
    assert not (folder / "images").exists() and not (folder.parent / "images").exists()
    body, _ = HTMLExporter().from_notebook_node(nbformat.reads(json.dumps(notebook), as_version=4))
    page = folder / NOTEBOOK.with_suffix(".html").name
    page.write_text(body, encoding="utf-8")
    return page


def markdown_images(page, path: Path) -> list[dict]:
    """Every <img> of the page's markdown cells except the Colab badge (an outside address, refused offline)."""
    page.goto(path.as_uri(), wait_until="load")  # "load" waits for every image to load or fail
    images = page.evaluate("""() => [...document.querySelectorAll('.jp-MarkdownOutput img')].map(img => ({
        alt: img.alt, src: img.getAttribute('src').slice(0, 60), complete: img.complete, width: img.naturalWidth}))""")
    return [image for image in images if image["src"] != COLAB_BADGE]


def test_notebook_01_diagrams_show_without_the_repository_s_files(browser_page, tmp_path):
    page = exported(json.loads(NOTEBOOK.read_text(encoding="utf-8")), tmp_path / "colab")
    images = markdown_images(browser_page, page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_page.screenshot(path=str(SCREENSHOTS / "notebook01_images.png"))
    assert len(images) == 2, images  # the three loops, and one training step
    missing = [image for image in images if not (image["complete"] and image["width"] > 0)]
    assert not missing, f"markdown images that did not load: {missing}"
    assert all(image["width"] >= 600 for image in images), images
    assert all(image["src"].startswith("data:image/png;base64,") for image in images), images  # carried in the page


def test_a_relative_link_shows_nothing_there(browser_page, tmp_path):
    """The check above can fail: notebook 01 with its old link ``![...](../images/training_step.png)``."""
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = [cell for cell in notebook["cells"] if "<!-- image: ../images/training_step.png" in "".join(cell["source"])]
    assert len(cells) == 1
    cells[0]["source"] = EMBEDDED.sub(r"\2(\1)", "".join(cells[0]["source"]))
    assert "](../images/training_step.png)" in cells[0]["source"]
    images = markdown_images(browser_page, exported(notebook, tmp_path / "colab"))
    broken = [image["src"] for image in images if not (image["complete"] and image["width"] > 0)]
    assert broken == ["../images/training_step.png"]

"""Scenario 2: notebook 05's hyperparameter explorer in a real JupyterLab, used as a learner uses it.

Run the notebook down to the explorer; drag the learning-rate slider with the mouse, change the batch size with the
keyboard, press Train: the plot inside the widget must change while the run trains, and the status must name the
run. A second run is drawn over the first (the list of runs under the plot says so); the largest learning rate ends
with the divergence message; a real double-click on Train starts exactly one run; Clear runs empties the plot.
"""

from __future__ import annotations

import re
import time

from notebook_page import NotebookPage, cell_index
from test_notebook04_race import drag_handle, image_src

NOTEBOOK = "05_hyperparameters.ipynb"


def image_bytes(image) -> int:
    """The size of the PNG an <img> shows (the widget serves it as a blob: URL, so fetch it)."""
    return image.evaluate("async e => (await (await fetch(e.src)).blob()).size")


class Explorer:
    """The explorer's controls, found by their labels, inside its output cell."""

    def __init__(self, nb: NotebookPage, index: int):
        self.nb, self.page = nb, nb.page
        cell = nb.cell(index)
        self.image = cell.locator("img.widget-image").first
        self.lr = cell.locator(".widget-slider", has_text="learning rate").first
        self.batch = cell.locator(".widget-slider", has_text="batch size").first
        self.train = cell.locator("button", has_text="Train").first
        self.clear = cell.locator("button", has_text="Clear").first
        self.status = cell.locator(".widget-html").first
        self.runs = cell.locator(".widget-html").nth(1)  # the list of runs on the plot, under it

    def run_names(self) -> list[str]:
        return re.findall(r"\d+\.\s*([^;]+?)(?:;|$)", self.runs.inner_text().split(":", 1)[-1].strip())

    def train_and_watch(self, *, double: bool = False, timeout: float = 120) -> set[str]:
        """Press Train (twice, as one double-click, if asked); return the plot images seen until the run ended."""
        before = self.status.inner_text()
        seen = {image_src(self.image)}
        (self.train.dblclick if double else self.train.click)()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen.add(image_src(self.image))
            text = self.status.inner_text()
            if text != before and not text.strip().startswith("Training ") and self.train.is_enabled():
                break
            time.sleep(0.05)
        else:
            raise TimeoutError(f"the run did not finish within {timeout} s; status: {self.status.inner_text()!r}")
        self.nb.wait_until_done(timeout)
        time.sleep(1.0)  # a queued second click would have been handled by now
        seen.add(image_src(self.image))
        return seen


def test_explorer_trains_overlays_diverges_and_clears(lab, page, shot):
    nb = NotebookPage(page, lab, NOTEBOOK)
    index = cell_index(NOTEBOOK, "HyperparameterExplorer(")
    nb.run_through(index)
    ex = Explorer(nb, index)
    ex.image.wait_for(state="visible")
    ex.image.scroll_into_view_if_needed()
    shot(page, "explorer-rendered")
    empty_plot, empty_bytes = image_src(ex.image), image_bytes(ex.image)
    assert ex.train.is_enabled() and ex.run_names() == []

    # a mouse drag on the learning rate, two arrow keys on the batch size
    lr_before = ex.lr.locator(".widget-readout").inner_text()
    drag_handle(page, ex.lr, dx=-40)
    ex.batch.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("([e]) => e.textContent.trim() === '16'",
                           arg=[ex.batch.locator(".widget-readout").element_handle()], timeout=10_000)
    lr_after = ex.lr.locator(".widget-readout").inner_text()
    assert lr_after != lr_before, "the drag moved the learning rate"
    shot(page, "settings-changed")

    frames = ex.train_and_watch()
    shot(page, "first-run")
    assert len(frames - {empty_plot}) >= 2, "the plot inside the widget changes while the run trains"
    status = ex.status.inner_text()
    assert f"lr={lr_after}" in status.replace(" ", "") or f"lr={lr_after}" in status, status
    assert "bs=16" in status, f"the final status names the run: {status!r}"
    assert ex.run_names() == [f"sgd lr={lr_after} bs=16 ep=5"], ex.runs.inner_text()
    after_first = image_src(ex.image)

    # a second run with other settings is drawn over the first
    drag_handle(page, ex.lr, dx=30)
    ex.train_and_watch()
    shot(page, "second-run-overlaid")
    assert len(ex.run_names()) == 2, f"both runs are on the plot: {ex.runs.inner_text()!r}"
    assert image_src(ex.image) != after_first

    # the largest learning rate: a drag far to the right clamps at the slider's maximum
    drag_handle(page, ex.lr, dx=2000)
    assert ex.lr.locator(".widget-readout").inner_text().strip() == "10"
    ex.train_and_watch()
    shot(page, "diverged")
    assert "diverged" in ex.status.inner_text().lower(), ex.status.inner_text()
    assert len(ex.run_names()) == 3

    # a real double-click on Train starts exactly one run
    drag_handle(page, ex.lr, dx=-2000)
    ex.train_and_watch(double=True)
    shot(page, "after-double-click")
    assert len(ex.run_names()) == 4, f"a double-click must train once: {ex.runs.inner_text()!r}"

    # Clear runs empties the plot: a new picture with the bytes of the empty one, far fewer than four runs take
    full_plot, full_bytes = image_src(ex.image), image_bytes(ex.image)
    ex.clear.click()
    page.wait_for_function("([e]) => e.textContent.includes('cleared')", arg=[ex.status.element_handle()])
    nb.wait_until_done(30)
    shot(page, "cleared")
    assert image_src(ex.image) != full_plot
    assert image_bytes(ex.image) == empty_bytes < 0.8 * full_bytes, (empty_bytes, full_bytes, image_bytes(ex.image))
    assert ex.run_names() == [] and "none yet" in ex.runs.inner_text()
    assert nb.error_outputs() == [], "no cell output may show an error"
    assert page.errors == [], f"browser console errors: {page.errors}"
    assert {url for url in page.external if "colab-badge" not in url} == set(), page.external  # offline otherwise

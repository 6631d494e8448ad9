"""Scenario 4: notebook 05's explorer where the browser review (2026-12-04) saw a learner get stuck.

One run of the notebook down to the explorer, then, in order: a 1024x768 screen with the file browser open (the plot
is shown at its own size, the status is not clipped); the keyboard (Tab to Train, Enter: the focus stays on Train
after the run, with a ring of at least 2 px); a click 0.1 s after a run's end (it trains, or the status says why
not); the dark theme (the status has a readable contrast); a kernel restart during a run (the widget says what to
do). Each check notes its problem and the test fails at the end with all of them, so one run shows every failure.
"""

from __future__ import annotations

import json
import re
import time

from notebook_page import ROOT, NotebookPage, cell_index
from test_notebook05_explorer import Explorer

NOTEBOOK = "05_hyperparameters.ipynb"


def luminance(css: str) -> float:
    """Relative luminance (WCAG) of a CSS ``rgb(...)``/``rgba(...)`` colour."""
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
    return sum(k * (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4) for k, c in zip((0.2126, 0.7152, 0.0722), (r, g, b)))


def contrast(fg: str, bg: str) -> float:
    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def set_theme(page, theme: str) -> None:
    """Settings > Theme > ``theme``, as a learner picks it; wait until JupyterLab says it is applied."""
    page.locator(".lm-MenuBar-item", has_text="Settings").first.click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    page.locator(".lm-Menu-item", has_text=theme).first.click()
    light = "false" if "Dark" in theme else "true"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30_000)
    time.sleep(1.0)


def finish(ex: Explorer, runs_before: int, timeout: float = 120) -> None:
    """Wait until the explorer lists another run and its status no longer says "Training"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(ex.run_names()) > runs_before and not ex.status.inner_text().strip().startswith("Training"):
            return
        time.sleep(0.05)
    raise TimeoutError(f"no new run within {timeout} s; status {ex.status.inner_text()!r}")


def test_explorer_at_1024_by_keyboard_in_the_dark_and_after_a_restart(lab, page, shot):
    problems = []
    nb = NotebookPage(page, lab, NOTEBOOK)
    index = cell_index(NOTEBOOK, "HyperparameterExplorer(")
    cells = json.loads((ROOT / "notebooks" / NOTEBOOK).read_text())["cells"]
    if "model not found" not in "".join(cells[index - 1]["source"]):
        problems.append("05 does not explain the 'model not found' message of a reopened notebook (04 does)")
    nb.run_through(index)
    ex = Explorer(nb, index)
    ex.image.wait_for(state="visible")

    # a laptop screen with the file browser open
    page.set_viewport_size({"width": 1024, "height": 768})
    if not page.locator("#filebrowser").is_visible():
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='filebrowser']").first.click()
    time.sleep(1.0)
    ex.image.scroll_into_view_if_needed()
    scale = ex.image.evaluate("e => e.getBoundingClientRect().width / e.naturalWidth")
    shot(page, "explorer-1024")
    if scale < 0.95:
        problems.append(f"at 1024x768 the plot is shown at {scale:.0%} of its size (its text shrinks)")

    # the keyboard: Tab from the optimizer menu to Train, Enter
    ex.nb.cell(index).locator(".widget-dropdown select").first.focus()
    page.keyboard.press("Tab")
    on_train = ex.train.evaluate("e => e === document.activeElement")
    ring = ex.train.evaluate("e => [getComputedStyle(e).outlineStyle, parseFloat(getComputedStyle(e).outlineWidth)]")
    if not on_train:
        problems.append("Tab from the optimizer menu does not reach Train")
    if ring[0] == "none" or ring[1] < 2:
        problems.append(f"Train's focus ring is {ring[1]} px {ring[0]}")
    runs = len(ex.run_names())
    page.keyboard.press("Enter")
    finish(ex, runs)
    nb.wait_until_done(60)
    shot(page, "after-enter-1024")
    if not ex.train.evaluate("e => e === document.activeElement"):
        active = page.evaluate("() => document.activeElement.tagName + '.' + document.activeElement.className")
        problems.append(f"after a run the focus is on {active}, not on Train")
    clipped = ex.status.evaluate("e => e.scrollHeight > e.clientHeight + 1")
    if clipped:
        problems.append("at 1024x768 the status line is clipped")

    # a click just after a run's end (the review's 0.3 s under load; 0.1 s here): it trains, or the status says why
    runs = len(ex.run_names())
    ex.train.click()
    finish(ex, runs)
    time.sleep(0.1)
    ex.train.click()
    time.sleep(4.0)
    nb.wait_until_done(60)
    trained = len(ex.run_names()) == runs + 2
    said = "ignored" in ex.status.inner_text()
    shot(page, "click-after-run")
    if not (trained or said):
        problems.append(f"a click 0.1 s after a run was dropped silently: status {ex.status.inner_text()!r}")

    # the dark theme: the status must be readable
    set_theme(page, "JupyterLab Dark")
    try:
        ex.status.scroll_into_view_if_needed()
        colour = ex.status.locator("span").first.evaluate("e => getComputedStyle(e).color")
        background = page.evaluate("() => getComputedStyle(document.querySelector('.jp-Notebook')).backgroundColor")
        shot(page, "dark-theme")
        if contrast(colour, background) < 4.5:
            problems.append(f"in the dark theme the status is {colour} on {background} "
                            f"(contrast {contrast(colour, background):.1f} < 4.5)")
    finally:
        set_theme(page, "JupyterLab Light")

    # a restart while a run trains: the widget must say what to do
    ex.batch.locator(".noUi-handle").first.focus()
    for _ in range(4):
        page.keyboard.press("ArrowLeft")  # a smaller batch (32 or less): a run of some seconds
    ex.train.click()
    page.wait_for_function("([e]) => e.textContent.includes('Training')", arg=[ex.status.element_handle()])
    time.sleep(0.5)
    nb.menu("Kernel", "kernelmenu:restart")
    page.locator(".jp-Dialog .jp-mod-accept").first.click()
    nb.wait_for_kernel_idle(60)
    time.sleep(2.0)
    cell_text = nb.cell(index).inner_text()
    shot(page, "after-restart")
    if "Run All" not in cell_text or "kernel" not in cell_text:
        problems.append(f"after a restart mid-run the widget does not say what to do: {ex.status.inner_text()!r}")
    assert problems == [], "\n".join(problems)

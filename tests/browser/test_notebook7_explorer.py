"""Scenario 2b: notebook 05's hyperparameter explorer in Jupyter Notebook 7 (``make notebook``), not JupyterLab.

The series offers both front ends. Open the notebook on Notebook 7's own page, run it down to the explorer from the
Run menu, press Train once: the plot inside the widget must change while the run trains, the status must name the
run when it ends, and no cell output may show an error. The controls are found as in scenario 2 (``Explorer``).
"""

from __future__ import annotations

import re

from notebook_page import NotebookPage, cell_index
from test_notebook04_race import image_src
from test_notebook05_explorer import Explorer

NOTEBOOK = "05_hyperparameters.ipynb"
# Notebook 7.6's own page throws this while it loads its settings (its keyboard-shortcuts plugin), before any cell
# runs and with or without the settings the tests write: the one browser error that is not the series'.
NOTEBOOK7_STARTUP_ERROR = "page error: Cannot read properties of undefined (reading 'schema')"


def test_notebook7_explorer_trains_and_names_the_run(notebook7, page, shot):
    nb = NotebookPage(page, notebook7, NOTEBOOK)
    shot(page, "opened")
    # Notebook 7's page, not JupyterLab's: its top bar with the Jupyter logo, no JupyterLab status bar
    assert page.locator("#top-panel #jp-NotebookLogo").count() == 1, page.url
    assert page.locator("#jp-main-statusbar").count() == 0, page.url

    index = cell_index(NOTEBOOK, "HyperparameterExplorer(")
    nb.run_through(index)
    ex = Explorer(nb, index)
    ex.image.wait_for(state="visible", timeout=60_000)
    ex.image.scroll_into_view_if_needed()
    shot(page, "explorer-rendered")
    empty_plot = image_src(ex.image)
    assert ex.train.is_enabled() and ex.run_names() == [], ex.runs.inner_text()
    lr = ex.lr.locator(".widget-readout").inner_text().strip()
    bs = ex.batch.locator(".widget-readout").inner_text().strip()

    frames = ex.train_and_watch(timeout=240)
    shot(page, "trained")
    assert len(frames - {empty_plot}) >= 2, "the plot inside the widget changes while the run trains"
    status = ex.status.inner_text()
    named = re.match(r"\s*(sgd lr=(\S+) bs=(\d+) ep=5):", status)  # the sliders show 0.10, the run says lr=0.1
    assert named and float(named[2]) == float(lr) and named[3] == bs, \
        f"the final status names the run (lr={lr}, bs={bs}): {status!r}"
    assert ex.run_names() == [named[1]], ex.runs.inner_text()
    assert nb.error_outputs() == [], "no cell output may show an error"
    errors = [error for error in page.errors if error != NOTEBOOK7_STARTUP_ERROR]
    assert errors == [], f"browser console errors: {errors}"

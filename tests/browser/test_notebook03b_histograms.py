"""Scenario 5: notebook 03b's layer histograms (Going further) in a real JupyterLab.

Run the notebook down to the histogram widget; step one layer back with the keyboard and pick another network in
the menu: each time the picture inside the widget must change and the status must name the network and layer.
"""

from __future__ import annotations

from notebook_page import NotebookPage
from test_notebook04_race import image_src, wait_for_new_image

NOTEBOOK = "03b_initialization.ipynb"


def test_histograms_step_through_layers_and_networks(lab, page, shot):
    nb = NotebookPage(page, lab, NOTEBOOK)
    cell, image, status = nb.open_widget("LayerHistograms(")
    shot(page, "histograms-rendered")
    assert "relu, default, layer 15" in status.inner_text(), status.inner_text()

    first = image_src(image)
    cell.locator(".widget-slider .noUi-handle").first.focus()
    page.keyboard.press("ArrowLeft")
    second = wait_for_new_image(page, image, first)
    assert "layer 14" in status.inner_text(), status.inner_text()

    cell.locator(".widget-dropdown select").first.select_option("tanh, too large")
    wait_for_new_image(page, image, second)
    shot(page, "histograms-tanh-too-large")
    assert "tanh, too large, layer 14" in status.inner_text(), status.inner_text()
    assert nb.error_outputs() == [], "no cell output may show an error"
    assert page.errors == [], f"browser console errors: {page.errors}"

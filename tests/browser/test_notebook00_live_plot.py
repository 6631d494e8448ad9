"""Scenario 1: notebook 00 in a real JupyterLab, Run All, as a learner does it.

What the page must show: the explorer's learning-rate and batch-size sliders as sliders (not as text), a live plot whose image changes at least
three times while training runs and that leaves exactly one image behind, and no error anywhere. The second test
breaks the live plot on purpose (an IPython startup file that lets it draw only its first frame) and checks that
the same check then fails: the scenario can see a frozen plot.
"""

from __future__ import annotations

import pytest
from conftest import start_lab, stop_lab
from notebook_page import NotebookPage, cell_index

NOTEBOOK = "00_start_here.ipynb"
FREEZE_LIVE_PLOT = """
import utils.plotting as _plotting

_draw = _plotting.LivePlot.draw


def _first_frame_only(self, *args, **kwargs):  # the live plot draws once, then never updates
    if not getattr(self, "_browser_test_drawn", False):
        self._browser_test_drawn = True
        return _draw(self, *args, **kwargs)


_plotting.LivePlot.draw = _first_frame_only
"""


def check_live_plot(nb: NotebookPage, shot) -> None:
    live = cell_index(NOTEBOOK, "LivePlot(")
    frames = {event["src"] for event in nb.image_events(live)}
    shot(nb.page, "after-run-all")
    assert len(frames) >= 3, f"the live plot's image changed {len(frames)} times during training; expected >= 3"
    images = nb.images_in(nb.cell(live).locator(".jp-OutputArea"))
    assert len(images) == 1, f"exactly one plot image should be left behind, found {len(images)}"


def test_run_all_shows_a_slider_a_live_plot_and_no_error(lab, page, shot):
    nb = NotebookPage(page, lab, NOTEBOOK)
    shot(page, "opened")
    nb.run_all()
    explorer = nb.cell_of("HyperparameterExplorer(")
    sliders = explorer.locator(".widget-slider, .widget-hslider")
    sliders.first.scroll_into_view_if_needed()
    shot(page, "sliders")
    for name in ("learning rate", "batch size"):  # the two sliders notebook 00 asks the reader to move
        slider = sliders.filter(has_text=name).first
        assert slider.is_visible(), f"the {name} slider should render as a widget"
        assert slider.locator(".noUi-handle, .slider").count() >= 1, f"the {name} slider should have a handle"
    nb.cell_of("LivePlot(").scroll_into_view_if_needed()
    check_live_plot(nb, shot)
    assert nb.error_outputs() == [], "no cell output may show an error"
    assert page.errors == [], f"browser console errors: {page.errors}"
    assert {url for url in page.external if "colab-badge" not in url} == set(), page.external  # offline otherwise


def test_the_scenario_fails_when_the_live_plot_does_not_update(playwright, tmp_path, shot):
    from conftest import launch_chromium, offline_stub

    frozen = start_lab(tmp_path / "lab", startup_code=FREEZE_LIVE_PLOT)
    context = launch_chromium(playwright, tmp_path / "profile", viewport={"width": 1400, "height": 1000})
    try:
        page = context.pages[0] if context.pages else context.new_page()
        offline_stub(context, [])
        nb = NotebookPage(page, frozen, NOTEBOOK)
        nb.run_all()
        with pytest.raises(AssertionError, match="changed 1 times"):
            check_live_plot(nb, shot)
    finally:
        context.close()
        stop_lab(frozen)

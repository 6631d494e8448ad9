"""Scenario 6: notebook 06's first live plot in a real JupyterLab shows one legend, not two on top of each other.

The browser review (2026-12-04) saw two legend boxes drawn at one spot in the first live plot of 06's "two recipes"
race (the marks' meaning and the run's name, both in the upper right). Run the notebook down to that cell and
watch its picture change while the first candidate trains; an IPython startup file (a test hook, as scenario 1's)
notes how many legends each picture of a ``LivePlot`` holds. The first candidate's plot has no earlier run
underneath, the case where both legends went to the same corner.
"""

from __future__ import annotations

import json

from conftest import launch_chromium, offline_stub, start_lab, stop_lab
from notebook_page import NotebookPage, cell_index

NOTEBOOK = "06_putting_it_all_together.ipynb"
#: an IPython startup file: every picture a LivePlot renders appends {"title", "background", "legends"} to a file
COUNT_LEGENDS = """
import json as _json
import os as _os
import sys as _sys

_sys.path.insert(0, _os.path.dirname(_os.getcwd()))  # the served checkout's utils (the kernel starts in notebooks/)
import utils.plotting as _plotting
from matplotlib.legend import Legend as _Legend

_render = _plotting.LivePlot.render


def _render_and_count(self, *args, **kwargs):
    figure = _render(self, *args, **kwargs)
    with open({record!r}, "a") as file:
        file.write(_json.dumps({{"title": self.title, "background": len(self.background),
                                 "legends": len(figure.findobj(_Legend))}}) + "\\n")
    return figure


_plotting.LivePlot.render = _render_and_count
"""


def test_first_live_plot_of_06_has_one_legend(playwright, tmp_path, shot):
    record = tmp_path / "legends.jsonl"
    lab = start_lab(tmp_path / "lab", startup_code=COUNT_LEGENDS.format(record=str(record)))
    context = launch_chromium(playwright, tmp_path / "profile", viewport={"width": 1400, "height": 1000})
    try:
        page = context.pages[0] if context.pages else context.new_page()
        offline_stub(context, [])
        nb = NotebookPage(page, lab, NOTEBOOK)
        index = cell_index(NOTEBOOK, "def train_candidate(")
        nb.run_through(index)
        cell = nb.cell(index)
        cell.locator(".jp-OutputArea img").first.scroll_into_view_if_needed()
        shot(page, "live-plots")
        frames = {event["src"] for event in nb.image_events(index)}
        assert len(frames) >= 2, f"the live plot's picture changed {len(frames)} times while the race trained"
        pictures = [json.loads(line) for line in record.read_text().splitlines()]
        first = [p for p in pictures if p["background"] == 0]
        assert first, f"no picture of the first candidate's live plot was recorded: {pictures}"
        legends = {p["legends"] for p in first}
        assert legends == {1}, f"the first live plot ({first[0]['title']}) drew {legends} legends, expected one"
        assert nb.error_outputs() == [], "no cell output may show an error"
    finally:
        context.close()
        stop_lab(lab)

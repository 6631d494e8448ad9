"""Scenario 3: notebook 04's 2-D optimizer race in a real JupyterLab, and the momentum map that follows it.

Run the notebook down to the race widget, then act as a learner: drag the learning-rate slider with the mouse and
pick another function in the dropdown. Each time, the picture inside the widget must change (a new image) and the
status line must be redrawn. Then run the momentum map's cell (Going further) alone: a drag of the race's momentum
slider must move the map's point (a new picture, a new rate in its status). At 1024x768 with the file browser open
both pictures keep their own size. The browser console must stay free of errors.
"""

from __future__ import annotations

import re
import time

from notebook_page import NotebookPage, cell_index

NOTEBOOK = "04_optimizers.ipynb"


def image_src(image) -> str:
    return image.evaluate("e => e.src.length + ':' + e.src.slice(-80)")


def wait_for_new_image(page, image, old: str, timeout: float = 60_000) -> str:
    handle = image.element_handle()
    page.wait_for_function("([e, old]) => e.src && (e.src.length + ':' + e.src.slice(-80)) !== old", arg=[handle, old],
                           timeout=timeout)
    return image_src(image)


def drag_handle(page, slider, dx: float) -> None:
    """Press the slider's handle, move it ``dx`` pixels, release: what a mouse drag does."""
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + dx * step / 10, y)
    page.mouse.up()


def test_race_redraws_when_a_slider_moves_and_when_the_function_changes(lab, page, shot):
    nb = NotebookPage(page, lab, NOTEBOOK)
    cell, image, status = nb.open_widget("race_explorer(")
    shot(page, "race-rendered")
    first_src, first_status = image_src(image), status.inner_text()
    assert first_status.strip(), "the status line names the winner"

    lr = cell.locator(".widget-slider", has_text="lr (sgd, momentum)").first
    readout_before = lr.locator(".widget-readout").inner_text()
    drag_handle(page, lr, dx=80)
    second_src = wait_for_new_image(page, image, first_src)
    shot(page, "after-lr-drag")
    assert lr.locator(".widget-readout").inner_text() != readout_before, "the drag moved the slider"
    assert second_src != first_src

    dropdown = cell.locator(".widget-dropdown select").first
    current = dropdown.input_value()
    other = next(value for value in dropdown.locator("option").evaluate_all("os => os.map(o => o.value)")
                 if value != current)
    dropdown.select_option(other)
    third_src = wait_for_new_image(page, image, second_src)
    shot(page, f"after-function-{other}")
    assert third_src not in (first_src, second_src)
    assert status.inner_text().strip(), "the status line is redrawn for the new function"

    # the momentum map (Going further): run its cell alone, it follows the race's momentum slider
    map_index = cell_index(NOTEBOOK, "momentum_map_widget(")
    nb.select(map_index)
    nb.menu("Run", "notebook:run-cell")
    nb.wait_until_done(120)
    map_cell = nb.cell(map_index)
    map_image = map_cell.locator("img.widget-image").first
    map_image.wait_for(state="visible")
    map_status = map_cell.locator(".widget-html").first
    map_src, map_text = image_src(map_image), map_status.inner_text()
    assert "momentum 0.90" in map_text, map_text
    momentum = cell.locator(".widget-slider", has=page.locator("label", has_text=re.compile(r"^momentum$"))).first
    drag_handle(page, momentum, dx=-60)
    wait_for_new_image(page, map_image, map_src)
    map_image.scroll_into_view_if_needed()
    shot(page, "momentum-map-followed")
    assert map_status.inner_text() != map_text and "momentum 0.90" not in map_status.inner_text()

    # a laptop screen with the file browser open: both pictures keep their size (the review saw the race at 59 %)
    page.set_viewport_size({"width": 1024, "height": 768})
    if not page.locator("#filebrowser").is_visible():
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='filebrowser']").first.click()
    time.sleep(1.0)
    for name, picture in (("race", image), ("momentum map", map_image)):
        picture.scroll_into_view_if_needed()
        shot(page, f"{name.replace(' ', '-')}-1024")
        scale = picture.evaluate("e => e.getBoundingClientRect().width / e.naturalWidth")
        assert scale > 0.95, f"at 1024x768 with the file browser open the {name} is shown at {scale:.0%} of its size"
    assert nb.error_outputs() == [], "no cell output may show an error"
    assert page.errors == [], f"browser console errors: {page.errors}"
    assert {url for url in page.external if "colab-badge" not in url} == set(), page.external  # offline otherwise

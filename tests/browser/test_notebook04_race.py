"""Scenario 3: notebook 04's 2-D optimizer race in a real JupyterLab.

Run the notebook down to the race widget, then act as a learner: drag the learning-rate slider with the mouse and
pick another function in the dropdown. Each time, the picture inside the widget must change (a new image) and the
status line must be redrawn; the browser console must stay free of errors.
"""

from __future__ import annotations

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
    index = cell_index(NOTEBOOK, "race_explorer(")
    nb.run_through(index)
    cell = nb.cell(index)
    image = cell.locator("img.widget-image").first
    image.wait_for(state="visible")
    image.scroll_into_view_if_needed()
    status = cell.locator(".widget-html").first
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
    assert nb.error_outputs() == [], "no cell output may show an error"
    assert page.errors == [], f"browser console errors: {page.errors}"
    assert {url for url in page.external if "colab-badge" not in url} == set(), page.external  # offline otherwise

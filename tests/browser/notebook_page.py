"""What the browser tests do to a notebook in JupyterLab or Jupyter Notebook 7, in the words of a learner: open it,
run it, find a cell, watch its images. Selectors are JupyterLab 4's and ipywidgets 8's own class names; Notebook 7 is
built from the same widgets (cells, prompts, menus and their commands), all but the kernel's status, see
``kernel_idle``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every <img> that appears or changes its src inside a cell's output is logged with the cell's index and a time.
WATCH_IMAGES = """() => {
  if (window.__images) return;
  window.__images = [];
  const cells = () => [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
  const log = (img) => {
    const cell = img.closest('.jp-Cell');
    if (!cell || !img.src) return;
    window.__images.push({cell: cells().indexOf(cell), t: performance.now(), src: img.src.length + ':' + img.src.slice(-80)});
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes' && m.target.tagName === 'IMG') log(m.target);
      for (const node of m.addedNodes || []) {
        if (node.nodeType !== 1) continue;
        if (node.tagName === 'IMG') log(node);
        node.querySelectorAll && node.querySelectorAll('img').forEach(log);
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def cell_index(notebook: str, needle: str) -> int:
    """The index (markdown cells counted) of the first cell of ``notebooks/<notebook>`` whose source has ``needle``."""
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    for index, cell in enumerate(cells):
        if needle in "".join(cell["source"]):
            return index
    raise LookupError(f"no cell of {notebook} contains {needle!r}")


# Notebook 7 has no status bar. Its top bar shows "Kernel Starting", "Kernel Connecting" ... until the kernel is up and
# nothing once it is idle or busy; the kernel's logo appears once the session is ready; the page's icon turns to
# favicon-busy-1.ico while the kernel is busy and back to favicon-notebook.ico when it is idle; the toolbar's kernel
# circle (data-status) says "idle" (but says so before any kernel is there too, hence the other three).
NOTEBOOK7_IDLE = """() => {
  const status = document.querySelector('.jp-NotebookKernelStatus');
  const logo = document.querySelector('.jp-NotebookKernelLogo img[src]');
  const icon = document.querySelector("link[rel*='icon']");
  const circle = document.querySelector('.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator');
  return !!(status && logo && icon) && status.textContent.trim() === '' && !icon.href.includes('busy')
    && (!circle || circle.dataset.status === 'idle');
}"""


class NotebookPage:
    """One notebook open in a Playwright ``page``, in JupyterLab or Notebook 7 (whichever ``lab.app`` runs)."""

    def __init__(self, page, lab, notebook: str):
        self.page, self.lab, self.notebook = page, lab, notebook
        self.notebook7 = getattr(lab, "app", "lab") == "notebook"
        page.goto(lab.notebook_url(notebook))
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=60_000)
        self.wait_for_kernel_idle(timeout=60)
        page.evaluate(WATCH_IMAGES)

    # ------------------------------------------------------------------------------------------------- cells
    def cell(self, index: int):
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def cell_of(self, needle: str):
        return self.cell(cell_index(self.notebook, needle))

    def prompts(self) -> list[str]:
        return self.page.eval_on_selector_all(".jp-Notebook .jp-CodeCell .jp-InputPrompt",
                                              "els => els.map(e => e.textContent.trim())")

    # ------------------------------------------------------------------------------------------------- running
    def menu(self, menu: str, command: str) -> None:
        """Click ``menu`` in the menu bar, then the item that runs JupyterLab's ``command``."""
        self.page.locator(".lm-MenuBar-item", has_text=menu).first.click()
        self.page.locator(f".lm-Menu-item[data-command='{command}']").first.click()

    def select(self, index: int) -> None:
        self.cell(index).locator(".jp-InputPrompt").first.click()

    def run_all(self, timeout: float = 240) -> None:
        self.menu("Run", "runmenu:run-all")
        self.wait_until_done(timeout)

    def run_through(self, index: int, timeout: float = 240) -> None:
        """Run every cell above ``index``, then that cell: a learner's way to reach a widget quickly."""
        self.select(index)
        self.menu("Run", "notebook:run-all-above")
        self.wait_until_done(timeout)
        self.select(index)
        self.menu("Run", "notebook:run-cell")
        self.wait_until_done(timeout)

    def wait_until_done(self, timeout: float) -> None:
        """Wait until no cell is queued or running ("[*]") and the kernel is idle."""
        deadline = time.monotonic() + timeout
        time.sleep(0.5)
        while time.monotonic() < deadline:
            if not any("*" in p for p in self.prompts()) and self.kernel_idle():
                return
            time.sleep(0.25)
        raise TimeoutError(f"{self.notebook}: cells still running after {timeout:.0f} s: {self.prompts()}")

    def kernel_idle(self) -> bool:
        """The status bar names the kernel and says "Idle" (it says "Initializing", "Busy" ... otherwise).

        In Notebook 7: the top bar shows the kernel's logo and no "Kernel ..." message, and the page's icon is not
        the busy one (see ``NOTEBOOK7_IDLE``)."""
        if self.notebook7:
            return self.page.evaluate(NOTEBOOK7_IDLE)
        bar = self.page.locator("#jp-main-statusbar")
        return bar.count() > 0 and "Idle" in bar.inner_text()

    def wait_for_kernel_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.kernel_idle():
                return
            time.sleep(0.25)
        raise TimeoutError(f"{self.notebook}: the kernel did not become idle within {timeout:.0f} s")

    def open_widget(self, needle: str):
        """Run the notebook down to the first cell whose source has ``needle`` and show its widget: returns the
        cell, the widget's picture (shown on screen) and its first status line."""
        index = cell_index(self.notebook, needle)
        self.run_through(index)
        cell = self.cell(index)
        image = cell.locator("img.widget-image").first
        image.wait_for(state="visible")
        image.scroll_into_view_if_needed()
        return cell, image, cell.locator(".widget-html").first

    # ------------------------------------------------------------------------------------------------- outputs
    def image_events(self, cell: int | None = None) -> list[dict]:
        events = self.page.evaluate("() => window.__images || []")
        return [e for e in events if cell is None or e["cell"] == cell]

    def images_in(self, locator) -> list[str]:
        return locator.locator("img").evaluate_all("els => els.map(e => e.src.length + ':' + e.src.slice(-80))")

    def error_outputs(self) -> list[str]:
        """The text of every output that shows an error (a traceback or an exception name)."""
        texts = self.page.eval_on_selector_all(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], .jp-OutputArea-output.jp-mod-error",
            "els => els.map(e => e.textContent)")
        return [t for t in texts if "Traceback" in t or "Error" in t]

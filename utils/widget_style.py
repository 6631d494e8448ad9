"""What every widget of the series shares: theme-aware colours (pictures included), a visible focus ring, a note shown
when the kernel is gone, and pictures shown at their own size.

JupyterLab's themes set CSS variables (``--jp-content-font-color1`` ...); colours written with them stay readable
in the light and the dark theme. Used by ``utils.widgets`` (notebook 05) and ``utils.optim2d`` (notebook 04).
"""

from __future__ import annotations

#: CSS for the series' widgets, in JupyterLab's theme variables so the dark theme works too: a clear focus ring on
#: the buttons; in a dark theme (JupyterLab's ``data-jp-theme-light="false"``, VS Code's ``vscode-dark``) the
#: pictures, drawn black on white by matplotlib, shown inverted (light on a dark grey; ``hue-rotate`` turns the
#: inverted colours back to their own hue, so a blue line stays blue); and a note that shows only when the kernel
#: behind a widget is gone (after a restart ipywidgets marks every view with the class
#: ``jupyter-widgets-disconnected``; the widget can then no longer answer a click)
WIDGET_CSS = """<style>
.optim-widget .jupyter-button:focus-visible, .optim-widget .jupyter-button:focus {
  outline: 3px solid var(--jp-brand-color1, #1976d2) !important; outline-offset: 2px; }
body[data-jp-theme-light="false"] .optim-widget img.widget-image, body.vscode-dark .optim-widget img.widget-image {
  filter: invert(0.88) hue-rotate(180deg); }
.optim-restart-note { display: none; }
.jupyter-widgets-disconnected .optim-restart-note { display: block; font-weight: bold;
  color: var(--jp-warn-color0, #e65100); }
</style>"""
RESTART_NOTE = ('<span class="optim-restart-note">This widget has lost its kernel (it was restarted or shut down), '
                "so it no longer answers. Run the notebook from the top (Run &#8250; Run All Cells) for a working "
                "one.</span>")
#: theme-aware text colours for status lines (CSS variables of JupyterLab, with a fallback elsewhere)
TEXT = "var(--jp-content-font-color1, #212121)"
WARN = "var(--jp-warn-color0, #e65100)"
ERROR = "var(--jp-error-color1, #d32f2f)"


def status_html(text: str, colour: str = TEXT) -> str:
    """A status line of a series widget: ``text`` in ``colour``, the widget CSS and the restart note (hidden)."""
    return f'{WIDGET_CSS}<span style="color:{colour}">{text}</span>{RESTART_NOTE}'


def picture(**layout):
    """An ``ipywidgets.Image`` shown at its own size: never scaled down to a narrow output (its text would shrink
    below reading size: the box around it scrolls sideways instead) nor stretched up to a wide one (blurred)."""
    import ipywidgets as w

    return w.Image(format="png", layout=w.Layout(max_width="none", align_self="flex-start", **layout))

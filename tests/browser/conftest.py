"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, and a JupyterLab (or a Jupyter Notebook 7)
started from the checkout.

Run with ``make browser-test``: it installs Chromium (``apt-get install -y chromium``) and the ``playwright`` package
when they are missing, and sets ``OPTIM_BROWSER_REQUIRED=1`` so a missing browser fails instead of skipping.
Playwright always uses the system browser (``OPTIM_CHROMIUM``, default ``/usr/bin/chromium``); it never downloads
one. Screenshots of every step go to ``build/browser/``.

The Jupyter under test (fixture ``lab``; ``notebook7`` for Notebook 7's UI) serves a temporary copy of ``notebooks/``
and ``images/`` (with ``utils`` and ``scripts`` linked in), so a run never writes outputs into the repository's
notebooks.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "browser"
CHROMIUM = os.environ.get("OPTIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]
REQUIRED = os.environ.get("OPTIM_BROWSER_REQUIRED") == "1"


def _missing(reason: str):
    if REQUIRED:
        pytest.fail(f"{reason} (OPTIM_BROWSER_REQUIRED=1: make browser-test should have installed it)", pytrace=False)
    pytest.skip(reason)


def launch_chromium(playwright, user_data_dir: Path, **context_options):
    """A headless Chromium context with a fresh profile: the one way every browser test starts the browser."""
    if not Path(CHROMIUM).is_file():
        _missing(f"no Chromium at {CHROMIUM} (set OPTIM_CHROMIUM, or `apt-get install -y chromium`)")
    return playwright.chromium.launch_persistent_context(str(user_data_dir), headless=True, executable_path=CHROMIUM,
                                                         args=CHROMIUM_ARGS, **context_options)


@pytest.fixture(scope="session")
def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("needs the playwright package (`pip install playwright`; make browser-test does it)")
    with sync_playwright() as p:
        yield p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LAB_SETTINGS = {
    # every cell stays in the DOM (JupyterLab 4 otherwise renders only the cells on screen)
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no news or update checks: the machine may have no network
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                          "checkForUpdates": False},
}


# the two front ends the series supports (make lab, make notebook): the jupyter subcommand and its own options
APPS = {
    "lab": ("lab", ["--LabApp.news_url="]),
    "notebook": ("notebook", []),
}


@dataclass
class Lab:
    """A running JupyterLab or Notebook 7 (``app``): its base URL, token, the folder it serves and its log file."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen
    app: str = "lab"

    def notebook_url(self, name: str) -> str:
        if self.app == "notebook":  # Notebook 7 opens each notebook on a page of its own
            return f"{self.url}/notebooks/notebooks/{name}?token={self.token}"
        return f"{self.url}/lab/tree/notebooks/{name}?token={self.token}&reset"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None


def start_lab(tmp: Path, *, startup_code: str | None = None, app: str = "lab") -> Lab:
    """Start JupyterLab (``app="lab"``, ``make lab``) or Jupyter Notebook 7 (``app="notebook"``, ``make notebook``) on
    127.0.0.1 with a free port and a random token; wait until its API answers. Both read the same settings.

    ``startup_code``, if given, runs in every kernel before the notebook (an IPython startup file): the tests use it
    to break the live plot on purpose and see the browser test fail.
    """
    served = tmp / "served"
    served.mkdir(parents=True)
    shutil.copytree(ROOT / "notebooks", served / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "images", served / "images")
    for name in ("utils", "scripts", "data"):
        if (ROOT / name).exists():
            (served / name).symlink_to(ROOT / name)
    settings = tmp / "lab-settings"
    for relative, values in LAB_SETTINGS.items():
        path = settings / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    ipython_dir = tmp / "ipython"
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True)
    if startup_code:
        (ipython_dir / "profile_default" / "startup" / "00-test.py").write_text(startup_code)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "OPTIM_OFFLINE": "1", "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"), "IPYTHONDIR": str(ipython_dir),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    subcommand, app_options = APPS[app]
    log = tmp / f"jupyter-{app}.log"
    command = [sys.executable, "-m", "jupyter", subcommand, "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={served}", "--ServerApp.open_browser=False",
               "--ContentsManager.allow_hidden=True", *app_options]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    process = subprocess.Popen(command, cwd=served, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, served, log, process, app)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter {subcommand} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if "started" in lab.api("/api/status"):
                return lab
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_lab(lab)
            raise RuntimeError(f"jupyter {subcommand} did not answer within 60 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def stop_lab(lab: Lab) -> None:
    """Shut down the kernels and the server; kill the whole process group if it lingers."""
    try:
        for kernel in lab.api("/api/kernels") or []:
            lab.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        lab.api("/api/shutdown", method="POST")
        lab.process.wait(timeout=10)
    except Exception:  # noqa: BLE001 - whatever went wrong, the processes must not outlive the test
        pass
    if lab.process.poll() is None:
        os.killpg(lab.process.pid, signal.SIGKILL)
        lab.process.wait(timeout=10)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """One JupyterLab for the whole session (notebooks 00, 03b, 04, 05; the scenarios with a test hook start their own)."""
    instance = start_lab(tmp_path_factory.mktemp("lab"))
    try:
        yield instance
    finally:
        stop_lab(instance)


@pytest.fixture(scope="session")
def notebook7(tmp_path_factory):
    """One Jupyter Notebook 7 (``make notebook``) for the whole session: the same series in the other front end."""
    instance = start_lab(tmp_path_factory.mktemp("notebook7"), app="notebook")
    try:
        yield instance
    finally:
        stop_lab(instance)


def offline_stub(context, requested: list) -> None:
    """Answer every request that leaves 127.0.0.1 with an empty response, and note its URL in ``requested``.

    The tests run offline, as a classroom may: the only outside address a notebook page uses is its "Open in Colab"
    badge image. Answering it with nothing keeps the browser console free of network errors that say nothing
    about the series, and the tests can still check what was asked for.
    """
    def route(request_route):
        url = request_route.request.url
        if url.startswith(("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "data:", "blob:")):
            request_route.continue_()
        else:
            requested.append(url)
            request_route.fulfill(status=204, body="")

    context.route("**/*", route)


@pytest.fixture
def page(playwright, tmp_path):
    """A fresh browser page; console errors and uncaught page errors are collected in ``page.errors``."""
    context = launch_chromium(playwright, tmp_path / "profile", viewport={"width": 1400, "height": 1000})
    page = context.pages[0] if context.pages else context.new_page()
    page.errors, page.external = [], []
    offline_stub(context, page.external)
    page.on("console", lambda message: page.errors.append(f"console.{message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(f"page error: {error}"))
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def shot(request):
    """``shot(page, "step")`` writes build/browser/<test>-<nn>-<step>.png; returns the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 1000))

    def take(page, step: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{next(counter):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take

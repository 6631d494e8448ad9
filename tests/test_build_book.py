"""The book (`make book`): Jupyter Book 1.x configured by book/_config.yml and book/_toc.yml, driven by
scripts/build_book.py (which fetches the MathJax copy the pages load); .github/workflows/book.yml publishes it.

The fast tests check the configuration; the slow ones build the book (not executed) and a tiny executed one.
That the formulas are really typeset offline is checked in a browser: tests/browser/test_book_math.py."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SERIES = ["00_start_here", "01_optimization_loops", "02_loss_functions", "03_autograd", "03b_initialization",
          "04_optimizers", "05_hyperparameters", "05b_tuning", "06_putting_it_all_together", "07_scaling_out"]
CONFIG = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf-8"))
TOC = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text(encoding="utf-8"))
REPOSITORY = "optimizing-model-parameters/optimizing-model-parameters"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


build_book = _load("build_book", ROOT / "scripts" / "build_book.py")
hidden_cells = _load("hidden_cells", ROOT / "book" / "hidden_cells.py")
needs_jupyter_book = pytest.mark.skipif(importlib.util.find_spec("jupyter_book") is None,
                                        reason="needs Jupyter Book (make setup installs it: pyproject.toml's book extra)")


class LinkCollector(HTMLParser):
    """Every src= and href= of a page, with the tag it sits on."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.links += [(tag, value) for name, value in attrs if name in ("src", "href") and value]


def links_of(page: Path) -> list[tuple[str, str]]:
    collector = LinkCollector()
    collector.feed(page.read_text(encoding="utf-8"))
    return collector.links


def digest(paths) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def fake_mathjax(folder: Path) -> Path:
    """The files the book ships from a MathJax package, with placeholder contents."""
    for name in ("es5/tex-chtml-full.js", "es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff", "LICENSE"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("placeholder")
    return folder


def write_notebook(path: Path, *cells) -> Path:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# ----------------------------------------------------------------------------------------------- the configuration
def test_the_table_of_contents_is_the_series_in_order_then_the_robustness_page():
    assert TOC["format"] == "jb-book" and TOC["root"] == "book/intro"
    files = [chapter["file"] for part in TOC["parts"] for chapter in part["chapters"]]
    assert files == [f"notebooks/{name}" for name in SERIES] + ["docs/robustness"]
    assert [p.stem for p in NOTEBOOKS] == SERIES  # every notebook is in the book
    assert (ROOT / "book" / "intro.md").is_file() and (ROOT / "docs" / "robustness.md").is_file()
    # the index (the root page) links the robustness table, as the series' first page
    assert "](../docs/robustness.md)" in (ROOT / "book" / "intro.md").read_text(encoding="utf-8")


def test_every_notebook_is_executed_and_a_failing_one_fails_the_build():
    execute = CONFIG["execute"]
    assert execute["execute_notebooks"] in ("cache", "force")
    assert execute["raise_on_error"] is True and execute.get("allow_errors", False) is False
    assert execute["timeout"] >= 600
    assert CONFIG["only_build_toc_files"] is True and {".*", "build", "data"} <= set(CONFIG["exclude_patterns"])


def test_launch_buttons_open_the_notebook_on_colab_and_binder_as_the_readme_badges_do():
    launch, repository = CONFIG["launch_buttons"], CONFIG["repository"]
    assert launch["colab_url"] == "https://colab.research.google.com"
    assert launch["binderhub_url"] == "https://mybinder.org" and launch["notebook_interface"] == "jupyterlab"
    assert repository == {"url": f"https://github.com/{REPOSITORY}", "path_to_book": "", "branch": "main"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/" in readme
    assert f"https://mybinder.org/v2/gh/{REPOSITORY}/main" in readme


def test_formulas_load_a_local_mathjax_copy_shipped_in_the_book():
    config = CONFIG["sphinx"]["config"]
    mathjax = config["mathjax_path"]  # relative: to _static/, where html_static_path's content lands
    assert not re.match(r"^[a-z]+:|^//", mathjax)
    assert mathjax == f"{build_book.MATHJAX_CACHE.name}/es5/{build_book.MATHJAX_SCRIPT}"
    assert [ROOT / p for p in config["html_static_path"]] == [build_book.MATHJAX_STATIC]
    assert build_book.MATHJAX_STATIC.is_relative_to(ROOT / "build")  # `make clean` removes it; git ignores it


def test_hidden_cells_are_read_with_the_remove_input_tag():
    assert CONFIG["sphinx"]["local_extensions"] == {"hidden_cells": "./"}
    assert CONFIG["sphinx"]["config"]["nb_custom_formats"] == {".ipynb": "hidden_cells.read"}
    hidden = new_code_cell("SECRET_SETUP_LINE = 1")
    hidden.metadata["jupyter"] = {"source_hidden": True}
    tagged = new_code_cell("x = 1", metadata={"tags": ["remove-input"], "jupyter": {"source_hidden": True}})
    nb = hidden_cells.read(nbformat.writes(new_notebook(cells=[hidden, new_code_cell("VISIBLE = 2"), tagged])))
    assert [cell.metadata.get("tags") for cell in nb.cells] == [["remove-input"], None, ["remove-input"]]
    setup = next(c for c in nbformat.read(NOTEBOOKS[0], as_version=4).cells if c.cell_type == "code")
    assert setup.metadata["jupyter"]["source_hidden"]  # the set-up cell: what this is for


def test_make_installs_jupyter_book_1_with_the_book_extra():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert extras["book"] == ["jupyter-book>=1.0.4,<2"] and "optimizing-model-parameters[book]" in extras["dev"]
    recipe = re.search(r"^book:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M).group(1)
    assert recipe.strip() == "$(BIN)/python scripts/build_book.py"


def test_without_npm_there_is_no_local_mathjax(tmp_path, monkeypatch):
    monkeypatch.setattr(build_book.shutil, "which", lambda name: None)
    assert build_book.fetch_mathjax(tmp_path / "cache") is None


def test_fetch_mathjax_keeps_only_what_the_pages_need(tmp_path, monkeypatch):
    package = tmp_path / "package"
    fake_mathjax(package)
    (package / "es5" / "sre").mkdir()
    (package / "es5" / "sre" / "speech.js").write_text("4 MB the pages never load")
    archive = tmp_path / "mathjax-3.2.2.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(package, arcname="package")
    npm = tmp_path / "npm"  # a stand-in for `npm pack mathjax@3.2.2 --pack-destination DIR`
    npm.write_text(f"#!/bin/sh\ncp {archive} \"$4\"\necho \"$@\" > {tmp_path / 'args'}\n")
    npm.chmod(0o755)
    monkeypatch.setattr(build_book.shutil, "which", lambda name: str(npm) if name == "npm" else shutil.which(name))
    cache = tmp_path / "cache" / "mathjax-3.2.2"
    assert build_book.fetch_mathjax(cache) == cache
    assert (tmp_path / "args").read_text().split()[:2] == ["pack", "mathjax@3.2.2"]
    files = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())
    assert files == ["LICENSE", "es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff", "es5/tex-chtml-full.js"]
    npm.write_text("#!/bin/sh\nexit 1\n")  # a second call uses the cache and never runs npm
    assert build_book.fetch_mathjax(cache) == cache


# ----------------------------------------------------------------------------------------------- building it
@pytest.fixture
def local_mathjax(tmp_path, monkeypatch):
    """A placeholder MathJax copy, so that a build needs neither npm nor the registry."""
    static = tmp_path / "static"
    fake_mathjax(static / build_book.MATHJAX_CACHE.name)
    monkeypatch.setattr(build_book, "MATHJAX_STATIC", static)
    monkeypatch.setattr(build_book.fetch_mathjax, "__defaults__", (static / build_book.MATHJAX_CACHE.name,
                                                                   build_book.MATHJAX_VERSION))
    return static


@needs_jupyter_book
@pytest.mark.slow  # Sphinx renders the ten notebooks (not executed): about 20 s
def test_build_the_book_without_executing(tmp_path, local_mathjax):
    out = tmp_path / "book"
    before = digest(NOTEBOOKS)
    assert build_book.main(["--out", str(out), "--no-execute"]) == 0
    assert digest(NOTEBOOKS) == before  # notebooks/ is never modified

    pages = [out / "notebooks" / f"{name}.html" for name in SERIES]
    assert all(page.is_file() and page.stat().st_size > 10_000 for page in pages)
    assert (out / "docs" / "robustness.html").is_file() and (out / "book" / "intro.html").is_file()
    assert "book/intro.html" in (out / "index.html").read_text(encoding="utf-8")  # the root redirects to the intro
    assert not (out / "README.html").exists()  # only the pages of the table of contents
    assert (out / "searchindex.js").stat().st_size > 10_000 and (out / "search.html").is_file()
    # the intro links the pages in order, and the robustness page
    intro = [t for tag, t in links_of(out / "book" / "intro.html") if tag == "a" and "notebooks/" in t]
    assert list(dict.fromkeys(t.split("#")[0] for t in intro)) == [f"../notebooks/{n}.html" for n in SERIES]
    assert "../docs/robustness.html" in {t for _, t in links_of(out / "book" / "intro.html")}

    for name, page in zip(SERIES, pages):
        targets = {t for _, t in links_of(page)}
        assert f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{name}.ipynb" in targets
        assert (f"https://mybinder.org/v2/gh/{REPOSITORY}/main?urlpath=lab/tree/notebooks/{name}.ipynb"
                in {t.replace("%2F", "/") for t in targets})
        scripts = [t for tag, t in links_of(page) if tag == "script" and "mathjax" in t.lower()]
        # Sphinx loads MathJax on the pages with formulas only (02 has dozens), and only the local copy
        assert [s.split("?")[0] for s in scripts] in ([], [f"../_static/{CONFIG['sphinx']['config']['mathjax_path']}"])
        assert scripts or name != "02_loss_functions"
        assert not [t for tag, t in links_of(page) if tag == "script" and re.match(r"^(https?:)?//", t)]
        html = page.read_text(encoding="utf-8")
        assert "REVISION = " not in html, f"{name}: the hidden set-up cell's code is on the page"
    assert (out / "_static" / build_book.MATHJAX_CACHE.name / "LICENSE").is_file()
    # notebook-to-notebook links go to the pages
    assert "02_loss_functions.html" in {t.split("#")[0] for _, t in links_of(pages[1])}


@needs_jupyter_book
@pytest.mark.slow  # starts Jupyter kernels
def test_an_executed_book_shows_hidden_cells_outputs_only_and_a_failing_notebook_fails_it(tmp_path, local_mathjax):
    hidden = new_code_cell("SECRET_SETUP_LINE = 'set up'\nprint(SECRET_SETUP_LINE.upper())")
    hidden.metadata["jupyter"] = {"source_hidden": True}
    source = tmp_path / "src"
    write_notebook(source / "nbs" / "tiny.ipynb", new_markdown_cell("# Tiny\n\n$a^2$"), hidden,
                   new_code_cell("from pathlib import Path\nprint(6 * 7, Path.cwd().name)"))
    (source / "intro.md").write_text("# Intro\n")
    toc = source / "_toc.yml"
    toc.write_text("format: jb-book\nroot: intro\nchapters:\n  - file: nbs/tiny\n")
    assert build_book.main(["--source", str(source), "--toc", str(toc), "--out", str(tmp_path / "ok")]) == 0
    page = (tmp_path / "ok" / "nbs" / "tiny.html").read_text(encoding="utf-8")
    assert "SET UP" in page and "SECRET_SETUP_LINE" not in page  # the output, not the code
    assert "42 nbs" in page  # ran, in the notebook's own folder

    write_notebook(source / "nbs" / "boom.ipynb", new_markdown_cell("# Boom"), new_code_cell("raise RuntimeError('boom')"))
    toc.write_text(toc.read_text() + "  - file: nbs/boom\n")
    assert build_book.main(["--source", str(source), "--toc", str(toc), "--out", str(tmp_path / "bad")]) == 1


# ----------------------------------------------------------------------------------------------- the CI workflow
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


@pytest.mark.slow  # starts a process (check-jsonschema)
def test_the_book_workflow_is_a_valid_github_actions_workflow():
    linter = shutil.which("check-jsonschema") or shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if linter is None:
        pytest.skip("needs check-jsonschema (requirements.txt; pip install check-jsonschema)")
    done = subprocess.run([linter, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_book_workflow_builds_with_make_and_publishes_with_github_pages():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = " ".join(step.get("run", "") for step in build["steps"])
    uses = [step.get("uses", "") for step in build["steps"]]
    assert "make" in runs and " book" in runs and "TORCH=cpu" in runs
    assert any(u.startswith("actions/setup-node") for u in uses)  # npm fetches MathJax
    upload = next(step for step in build["steps"] if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "build/book"  # where build_book.py writes
    assert deploy["needs"] == "build" and deploy["steps"][0]["uses"].startswith("actions/deploy-pages")
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}

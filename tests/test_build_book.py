"""scripts/build_book.py (`make book`): nbconvert's pages for every notebook, an index, links and images that
resolve, MathJax shipped with the pages; .github/workflows/book.yml publishes it (checked by a linter here).

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
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
build_book = importlib.util.module_from_spec(spec)
sys.modules.setdefault("build_book", build_book)  # dataclasses look their module up there
spec.loader.exec_module(build_book)


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


def is_local(target: str) -> bool:
    return not (target.startswith(("#", "data:", "mailto:", "/")) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target))


def unresolved(page: Path) -> list[str]:
    return [f"{page.name}: <{tag}> {target}" for tag, target in links_of(page)
            if is_local(target) and not (page.parent / target.split("#")[0]).exists()]


def digest(paths) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def fake_mathjax(folder: Path) -> Path:
    """The files the book copies from a MathJax package, with placeholder contents."""
    for name in ("es5/tex-chtml-full.js", "es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff", "LICENSE"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("placeholder")
    return folder


@pytest.mark.slow  # starts processes (nbconvert, jupyter kernels, check-jsonschema)
def test_render_every_notebook_without_executing(tmp_path):
    out = tmp_path / "book"
    before = digest(NOTEBOOKS)
    assert build_book.main(["--out", str(out), "--no-execute", "--mathjax", str(fake_mathjax(tmp_path / "mj"))]) == 0
    assert digest(NOTEBOOKS) == before  # notebooks/ is never modified

    pages = [out / "notebooks" / p.with_suffix(".html").name for p in NOTEBOOKS]
    assert all(page.is_file() and page.stat().st_size > 10_000 for page in pages)
    index = out / "index.html"
    index_links = [target for tag, target in links_of(index) if tag == "a"]
    pages_linked = [target for target in index_links if target != "robustness.html"]  # + the claims table's page
    assert pages_linked == [f"notebooks/{page.name}" for page in pages]  # every page, in order

    images = [target for page in pages for tag, target in links_of(page) if tag == "img" and is_local(target)]
    assert images, "the notebooks show diagrams from images/: at least one <img> should point there"
    assert all(target.startswith("../images/") for target in images)
    broken = [problem for page in [index, *pages] for problem in unresolved(page)]
    assert not broken, "links that do not resolve in the book:\n" + "\n".join(broken)
    # notebook-to-notebook links go to the pages, not to the .ipynb files
    assert not [t for page in pages for _, t in links_of(page) if is_local(t) and t.split("#")[0].endswith(".ipynb")]
    # every script a page loads is the local MathJax copy: nothing from a CDN, so the pages read offline
    scripts = {target for page in pages for tag, target in links_of(page) if tag == "script"}
    assert scripts == {"../mathjax/es5/tex-chtml-full.js"}
    assert (out / "mathjax" / "LICENSE").is_file() and (out / "mathjax" / "es5" / "output" / "chtml").is_dir()
    assert "inlineMath: [['$', '$']" in pages[0].read_text(encoding="utf-8")  # MathJax 3 told about $...$


def test_without_npm_the_pages_load_mathjax_from_a_cdn_and_say_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build_book.shutil, "which", lambda name: None)
    assert build_book.fetch_mathjax(tmp_path / "cache") is None
    monkeypatch.setattr(build_book, "fetch_mathjax", lambda: None)
    nb = write_notebook(tmp_path / "01_x.ipynb", new_markdown_cell("# X\n\n$a^2$"))
    assert build_book.main(["--out", str(tmp_path / "out"), "--no-execute", str(nb)]) == 0
    assert "formulas show as raw LaTeX without internet" in capsys.readouterr().err
    scripts = {target for tag, target in links_of(tmp_path / "out" / "notebooks" / "01_x.html") if tag == "script"}
    assert scripts == {build_book.MATHJAX_CDN}
    with pytest.raises(FileNotFoundError, match="does not hold MathJax 3"):
        build_book.copy_mathjax(tmp_path, tmp_path / "out")


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


def write_notebook(path: Path, *cells) -> Path:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.mark.slow  # starts processes (nbconvert, jupyter kernels, check-jsonschema)
def test_execute_a_tiny_notebook_and_report_a_failing_one(tmp_path):
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "dot.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    good = write_notebook(
        tmp_path / "nbs" / "01_tiny.ipynb",
        new_markdown_cell("# Tiny notebook\n\nIt prints a number.\n\n![a dot](../pictures/dot.png) "
                          "[the next one](02_boom.ipynb#Boom) [this](#Tiny-notebook) [web](https://pytorch.org)"),
        new_code_cell("from pathlib import Path\nprint(6 * 7, Path.cwd().name)"),
    )
    bad = write_notebook(tmp_path / "nbs" / "02_boom.ipynb", new_markdown_cell("# Boom"),
                         new_code_cell("raise RuntimeError('boom')"), new_code_cell("print('never reached')"))
    before = digest([good, bad])
    out = tmp_path / "out"

    mathjax = str(fake_mathjax(tmp_path / "mj"))
    assert build_book.main(["--out", str(out), "--timeout", "120", "--mathjax", mathjax, str(good), str(bad)]) == 1
    assert digest([good, bad]) == before  # one failed; the sources are untouched

    executed = nbformat.read(out / "notebooks" / "01_tiny.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "42 nbs\n"  # ran, in the notebook's own folder
    page = out / "notebooks" / "01_tiny.html"
    assert "42 nbs" in page.read_text(encoding="utf-8")
    targets = {target for _, target in links_of(page)}
    assert {"02_boom.html#Boom", "#Tiny-notebook", "https://pytorch.org", "../pictures/dot.png"} <= targets

    failed = nbformat.read(out / "notebooks" / "02_boom.ipynb", as_version=4)
    assert failed.cells[1].outputs[0]["output_type"] == "error" and failed.cells[2].outputs == []
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Tiny notebook" in index and "It prints a number." in index and "executed in" in index
    assert "FAILED" in index and "boom" in index


def test_main_refuses_what_is_not_a_notebook(tmp_path):
    with pytest.raises(SystemExit):
        build_book.main(["--no-execute", "--out", str(tmp_path / "out"), str(tmp_path / "99_nothing.ipynb")])
    with pytest.raises(SystemExit):
        build_book.main(["--no-execute", "--timeout", "0"])


def test_relink_points_notebook_links_at_their_pages():
    text = ("![d](../images/sub/d.png) [n](02_next.ipynb#part) [m](<03_more.ipynb>) [code](../utils/training.py) "
            '[web](https://github.com/o/r/blob/main/notebooks/01.ipynb) [top](#top) <a href="04_x.ipynb">x</a>')
    assert build_book.relink(text) == (
        "![d](../images/sub/d.png) [n](02_next.html#part) [m](<03_more.html>) [code](../utils/training.py) "
        '[web](https://github.com/o/r/blob/main/notebooks/01.ipynb) [top](#top) <a href="04_x.html">x</a>')


# ----------------------------------------------------------------------------------------------- the CI workflow
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


@pytest.mark.slow  # starts processes (nbconvert, jupyter kernels, check-jsonschema)
def test_the_book_workflow_is_a_valid_github_actions_workflow():
    linter = shutil.which("check-jsonschema") or shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if linter is None:
        pytest.skip("needs check-jsonschema (requirements.txt; pip install check-jsonschema)")
    done = subprocess.run([linter, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_book_workflow_builds_with_make_and_publishes_with_github_pages():
    import yaml  # installed with check-jsonschema (ruamel) or jupyter (PyYAML)

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


def test_the_robustness_table_becomes_a_page_linked_from_the_index(tmp_path, monkeypatch):
    source = tmp_path / "robustness.md"
    source.write_text("# How the claims held\n\n| notebook | claim | passed |\n|---|---|---|\n| 03b | trains | 16/16 |\n")
    monkeypatch.setattr(build_book, "ROBUSTNESS_MD", source)
    monkeypatch.setattr(build_book.write_robustness_page, "__defaults__", (source,))
    index = build_book.write_index(tmp_path, [])
    page = (tmp_path / "robustness.html").read_text()
    assert "<td>16/16</td>" in page and 'href="robustness.html"' in index.read_text()
    source.unlink()  # no table yet: no page, no link
    (tmp_path / "robustness.html").unlink()
    assert "robustness.html" not in build_book.write_index(tmp_path, []).read_text()


def test_a_cell_hidden_in_jupyterlab_shows_only_its_outputs_in_the_book(tmp_path):
    nb = nbformat.v4.new_notebook()
    hidden = nbformat.v4.new_code_cell("#@title Set-up\nSECRET_SETUP_LINE = 1")
    hidden.metadata["jupyter"] = {"source_hidden": True}
    nb.cells = [hidden, nbformat.v4.new_code_cell("VISIBLE_LINE = 2")]
    source = tmp_path / "n.ipynb"
    nbformat.write(nb, source)
    out = tmp_path / "book"
    assert build_book.main(["--out", str(out), "--no-execute", "--mathjax", str(fake_mathjax(tmp_path / "mj")),
                            str(source)]) == 0
    page = (out / "notebooks" / "n.html").read_text(encoding="utf-8")
    assert "VISIBLE_LINE" in page and "SECRET_SETUP_LINE" not in page

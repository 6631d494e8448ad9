"""scripts/build_book.py (`make book`): HTML pages for every notebook, an index, links and images that resolve."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
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


def test_render_every_notebook_without_executing(tmp_path):
    out = tmp_path / "book"
    before = digest(NOTEBOOKS)
    assert build_book.main(["--out", str(out), "--no-execute"]) == 0
    assert digest(NOTEBOOKS) == before  # notebooks/ is never modified

    pages = [out / p.with_suffix(".html").name for p in NOTEBOOKS]
    assert all(page.is_file() and page.stat().st_size > 10_000 for page in pages)
    index = out / "index.html"
    assert index.is_file()
    index_links = [target for tag, target in links_of(index) if tag == "a"]
    assert index_links == [page.name for page in pages]  # every page, in order

    images = [target for page in pages for tag, target in links_of(page) if tag == "img" and is_local(target)]
    assert images, "the notebooks show diagrams from images/: at least one <img> should point there"
    assert all(target.startswith("images/") for target in images)
    broken = [problem for page in [index, *pages] for problem in unresolved(page)]
    assert not broken, "links that do not resolve in the book:\n" + "\n".join(broken)
    # notebook-to-notebook links go to the pages, not to the .ipynb files
    assert not [t for page in pages for _, t in links_of(page) if is_local(t) and t.split("#")[0].endswith(".ipynb")]


def write_notebook(path: Path, *cells) -> Path:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


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

    assert build_book.main(["--out", str(out), "--timeout", "120", str(good), str(bad)]) == 1  # one failed
    assert digest([good, bad]) == before

    executed = nbformat.read(out / "01_tiny.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "42 nbs\n"  # ran, in the notebook's own folder
    page = out / "01_tiny.html"
    assert "42 nbs" in page.read_text(encoding="utf-8")
    targets = {target for _, target in links_of(page)}
    assert {"02_boom.html#Boom", "#Tiny-notebook", "https://pytorch.org"} <= targets
    assert not unresolved(page) and not unresolved(out / "index.html")

    failed = nbformat.read(out / "02_boom.ipynb", as_version=4)
    assert failed.cells[1].outputs[0]["output_type"] == "error" and failed.cells[2].outputs == []
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Tiny notebook" in index and "It prints a number." in index and "executed in" in index
    assert "FAILED" in index and "boom" in index


def test_choosing_notebooks_by_prefix_name_or_path(tmp_path):
    for name in ("01_alpha", "02_beta", "02_gamma"):
        write_notebook(tmp_path / f"{name}.ipynb", new_markdown_cell(f"# {name}"))
    find = build_book.find_notebooks
    assert [p.stem for p in find([], tmp_path)] == ["01_alpha", "02_beta", "02_gamma"]
    assert [p.stem for p in find(["02_gamma", "01", "01_alpha"], tmp_path)] == ["01_alpha", "02_gamma"]  # series order
    assert [p.stem for p in find(["02_beta.ipynb"], tmp_path)] == ["02_beta"]
    assert [p.stem for p in find([str(tmp_path / "01_alpha.ipynb")], tmp_path)] == ["01_alpha"]
    with pytest.raises(ValueError, match="'02' matches 2 notebooks"):
        find(["02"], tmp_path)
    with pytest.raises(ValueError, match="'09' matches no notebook.*01_alpha"):
        find(["09"], tmp_path)
    with pytest.raises(SystemExit):
        build_book.main(["--no-execute", "--out", str(tmp_path / "out"), "99_nothing"])


def test_rewrite_links_for_the_book(tmp_path):
    notebooks, out, images = tmp_path / "notebooks", tmp_path / "build" / "book", tmp_path / "images"
    pages = {notebooks / "02_next.ipynb": "02_next.html"}
    text = ("![d](../images/sub/d.png) [n](02_next.ipynb#part) [code](../utils/training.py) [web](http://x.org) "
            '[top](#top) <img src="../images/e.svg"> ![inline](data:image/png;base64,AAAA)')
    rewritten = build_book.rewrite_links(text, notebooks, out, pages, images)
    assert rewritten == ("![d](images/sub/d.png) [n](02_next.html#part) [code](../../utils/training.py) "
                         '[web](http://x.org) [top](#top) <img src="images/e.svg"> ![inline](data:image/png;base64,AAAA)')

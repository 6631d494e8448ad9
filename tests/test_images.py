"""images/make_images.py regenerates every diagram: small PNGs, reproducible, committed, and embedded in the
notebooks' markdown as data URIs by scripts/stamp_notebooks.py (Colab shows no image from a relative path)."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import struct
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import stamp_notebooks  # noqa: E402

IMAGE_TARGET = re.compile(r"!\[[^\]]*\]\(([^)\s]*)|<img\b[^>]*\bsrc=[\"']([^\"']*)")  # markdown or HTML images
RESTAMP = "run python scripts/stamp_notebooks.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_images", IMAGES / "make_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_images = _load_script()


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, read from the PNG header."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG file"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("images")
    return out, make_images.make_images(out)


def test_every_figure_is_written_as_a_small_png(generated):
    out, paths = generated
    assert [p.name for p in paths] == list(make_images.FIGURES)
    for path in paths:
        assert path.parent == out
        width, height = png_size(path)
        assert width >= 600 and height >= 250, f"{path.name} is only {width}x{height} pixels"
        assert 0 < path.stat().st_size < make_images.MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"


def test_regenerating_gives_identical_bytes(generated, tmp_path):
    out, _ = generated
    again = make_images.make_images(tmp_path, ["optimization_loops.png"])
    assert again == [tmp_path / "optimization_loops.png"]
    assert again[0].read_bytes() == (out / "optimization_loops.png").read_bytes()


def test_committed_pngs_are_the_script_s_figures(generated):
    out, _ = generated
    committed = sorted(p.name for p in IMAGES.glob("*.png"))
    assert committed == sorted(make_images.FIGURES), "images/ should hold exactly the figures make_images.py draws"
    for name in committed:
        assert png_size(IMAGES / name) == png_size(out / name), f"images/{name} is stale: run make images"


def markdown_cells(paths=NOTEBOOKS):
    """(notebook, cell index, source) for every markdown cell of ``paths``."""
    for notebook in paths:
        for index, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] == "markdown":
                source = cell["source"]
                yield notebook, index, "".join(source) if isinstance(source, list) else source


def images_that_colab_cannot_show(paths=NOTEBOOKS) -> list[str]:
    """Each markdown image that is neither an https URL (the Colab badge) nor a data URI, as "notebook, cell i: target"."""
    return [f"{notebook.name}, cell {index}: {target[:80]}"
            for notebook, index, source in markdown_cells(paths)
            for target in (a or b for a, b in IMAGE_TARGET.findall(source))
            if not target.startswith(("https://", "data:image/"))]


def stale_embedded_images(paths=NOTEBOOKS) -> list[str]:
    """Each data-URI image that is not under a comment naming its file, or whose bytes differ from that file's."""
    wrong = []
    for notebook, index, source in markdown_cells(paths):
        where = f"{notebook.name}, cell {index}"
        embedded = list(stamp_notebooks.EMBEDDED.finditer(source))
        data_uris = [a or b for a, b in IMAGE_TARGET.findall(source) if (a or b).startswith("data:")]
        if not len(data_uris) == len(embedded) == source.count(stamp_notebooks.COMMENT):
            wrong.append(f"{where}: each data-URI image must come right under a {stamp_notebooks.COMMENT}FILE --> "
                         "comment naming its file")
        for found in embedded:
            path = notebook.parent / found["file"]
            header, _, payload = found["uri"].partition(",")
            if not path.is_file():
                wrong.append(f"{where}: {found['file']} does not exist")
            elif header != "data:image/png;base64" or base64.b64decode(payload) != path.read_bytes():
                wrong.append(f"{where}: the image is not {found['file']} as it is now")
    return wrong


def test_every_markdown_image_shows_on_colab():
    """Colab renders markdown in the browser, with none of the cloned files: a relative path shows nothing."""
    wrong = images_that_colab_cannot_show()
    assert not wrong, ("images Colab cannot show: write <!-- image: ../images/NAME.png --> over ![alt](data:), then "
                       f"{RESTAMP}:\n" + "\n".join(wrong))


def test_every_embedded_image_is_its_file_as_it_is_now():
    wrong = stale_embedded_images()
    assert not wrong, f"stale or unnamed embedded images: {RESTAMP}\n" + "\n".join(wrong)


def test_the_checks_see_a_relative_path_and_a_stale_byte(tmp_path):
    """The two checks above, on a copy of notebook 01: its old relative link, then one byte of an image changed."""
    notebook = tmp_path / "notebooks" / "01_optimization_loops.ipynb"
    notebook.parent.mkdir()
    (tmp_path / "images").mkdir()
    for name in make_images.FIGURES:
        (tmp_path / "images" / name).write_bytes((IMAGES / name).read_bytes())
    text = (ROOT / "notebooks" / notebook.name).read_text(encoding="utf-8")
    notebook.write_text(text, encoding="utf-8")
    assert images_that_colab_cannot_show([notebook]) == stale_embedded_images([notebook]) == []

    nb = json.loads(text)  # cell 7 as it was: ![...](../images/training_step.png)
    source = "".join(nb["cells"][7]["source"])
    nb["cells"][7]["source"] = re.sub(r"<!-- image: (\S+)[^\n]*-->\n(!\[[^\]]*\])\(data:[^)]*\)", r"\2(\1)", source)
    notebook.write_text(json.dumps(nb), encoding="utf-8")
    assert images_that_colab_cannot_show([notebook]) == ["01_optimization_loops.ipynb, cell 7: ../images/training_step.png"]

    notebook.write_text(text, encoding="utf-8")
    png = bytearray((tmp_path / "images" / "training_step.png").read_bytes())
    png[-20] ^= 1
    (tmp_path / "images" / "training_step.png").write_bytes(png)
    assert stale_embedded_images([notebook]) == [
        "01_optimization_loops.ipynb, cell 7: the image is not ../images/training_step.png as it is now"]


def test_every_figure_is_shown_by_a_notebook():
    shown = {}
    for notebook, index, source in markdown_cells():
        for found in stamp_notebooks.EMBEDDED.finditer(source):
            path = (notebook.parent / found["file"]).resolve()
            assert path.parent == IMAGES, f"{notebook.name}, cell {index}: {found['file']} is not in images/"
            shown.setdefault(path.name, f"{notebook.name}, cell {index}")
    assert "optimization_loops.png" in shown  # notebook 01 shows the three loops
    assert sorted(shown) == sorted(make_images.FIGURES), (
        f"drawn but shown by no notebook: {sorted(set(make_images.FIGURES) - set(shown))}; "
        f"shown but not drawn: {sorted(set(shown) - set(make_images.FIGURES))}")


# ----------------------------------------------------------------------------------------------- the stamp embeds them
def _notebook_with_image(folder: Path, file: str = "../images/fig.png") -> Path:
    """notebooks/99_x.ipynb in ``folder``: a title, a code cell (the stamp needs one) and an image under its comment."""
    nb = new_notebook(cells=[new_markdown_cell("# 99 · A notebook"), new_code_cell("import utils\nutils.setup(seed=3)"),
                             new_markdown_cell(f"Look:\n\n<!-- image: {file} (a note) -->\n![a figure](data:)\n\nDone.")])
    path = folder / "notebooks" / "99_x.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    return path


def _image_cell(path: Path) -> str:
    return "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][2]["source"])


def test_stamp_embeds_the_file_s_current_bytes_and_is_idempotent(tmp_path):
    notebook = _notebook_with_image(tmp_path)
    (tmp_path / "images").mkdir()
    first = b"\x89PNG first"
    (tmp_path / "images" / "fig.png").write_bytes(first)
    assert stamp_notebooks.stamp(notebook)
    cell = _image_cell(notebook)
    assert cell == ("Look:\n\n<!-- image: ../images/fig.png (a note) -->\n![a figure](data:image/png;base64,"
                    f"{base64.b64encode(first).decode()})\n\nDone.")
    assert not stamp_notebooks.stamp(notebook)  # a second run changes nothing

    (tmp_path / "images" / "fig.png").write_bytes(b"\x89PNG second")  # make images drew it anew
    assert stale_embedded_images([notebook]) == ["99_x.ipynb, cell 2: the image is not ../images/fig.png as it is now"]
    assert stamp_notebooks.stamp(notebook)
    assert base64.b64encode(b"\x89PNG second").decode() in _image_cell(notebook)
    assert stale_embedded_images([notebook]) == []


def test_stamp_names_the_notebook_the_cell_and_the_missing_file(tmp_path, capsys):
    notebook = _notebook_with_image(tmp_path, "../images/gone.png")
    before = notebook.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=r"99_x\.ipynb, cell 2: the image comment names \.\./images/gone\.png"):
        stamp_notebooks.stamp(notebook)
    with pytest.raises(SystemExit) as exit_:
        stamp_notebooks.main([str(notebook)])
    assert exit_.value.code == 2 and "99_x.ipynb, cell 2" in capsys.readouterr().err
    assert notebook.read_text(encoding="utf-8") == before


def test_a_comment_without_its_image_is_an_error(tmp_path):
    notebook = _notebook_with_image(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "fig.png").write_bytes(b"\x89PNG")
    notebook.write_text(notebook.read_text(encoding="utf-8").replace("-->\\n![a", "-->\\n\\n![a"), encoding="utf-8")
    with pytest.raises(ValueError, match="must be followed, on the next line, by the image"):
        stamp_notebooks.stamp(notebook)


def test_stamp_changes_only_the_notebooks_named(tmp_path, capsys):
    named = _notebook_with_image(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "fig.png").write_bytes(b"\x89PNG")
    other = named.with_name("98_other.ipynb")
    other.write_bytes(named.read_bytes())
    before = other.read_bytes()
    assert stamp_notebooks.main(["--check", str(named)]) == 1
    assert stamp_notebooks.main([str(named)]) == 0
    assert "stamped: 99_x.ipynb (1 notebooks)" in capsys.readouterr().out
    assert other.read_bytes() == before and "base64," in _image_cell(named)
    assert stamp_notebooks.main([str(named.parent)]) == 0  # a folder: every notebook in it
    assert "stamped: 98_other.ipynb (2 notebooks)" in capsys.readouterr().out


def test_unknown_figure_name_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="names: unknown figure"):
        make_images.make_images(tmp_path, ["nope.png"])
    assert not list(tmp_path.iterdir())  # nothing written before the check


def test_command_line_draws_the_figures_asked_for(tmp_path, capsys):
    assert make_images.main(["--out", str(tmp_path), "training_step.png"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["training_step.png"]
    assert "training_step.png" in capsys.readouterr().out

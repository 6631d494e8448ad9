"""images/make_images.py regenerates every diagram: small PNGs, reproducible, committed, linked by the notebooks."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"


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
        assert 0 < path.stat().st_size < 200_000, f"{path.name} is {path.stat().st_size:,} bytes"


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


def test_notebooks_link_only_generated_images():
    linked = set()
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                linked.update(re.findall(r"\.\./images/([\w.-]+\.png)", source))
    assert "optimization_loops.png" in linked  # notebook 01 shows the three loops
    assert linked <= set(make_images.FIGURES), f"linked but not generated: {sorted(linked - set(make_images.FIGURES))}"


def test_unknown_figure_name_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="names: unknown figure"):
        make_images.make_images(tmp_path, ["nope.png"])
    assert not list(tmp_path.iterdir())  # nothing written before the check


def test_command_line_draws_the_figures_asked_for(tmp_path, capsys):
    assert make_images.main(["--out", str(tmp_path), "training_step.png"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["training_step.png"]
    assert "training_step.png" in capsys.readouterr().out

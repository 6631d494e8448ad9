"""Regenerate every diagram of the series (matplotlib only, no data, no training).

    python images/make_images.py              # writes the PNGs next to this script
    python images/make_images.py --out /tmp/x  # somewhere else
    python images/make_images.py training_step.png

The notebooks embed each PNG in its markdown cell as a data URI (Colab cannot follow a relative link to a
file), under a comment naming the file, ``<!-- image: ../images/optimization_loops.png ... -->``; after
``make images``, ``python scripts/stamp_notebooks.py`` copies the new bytes in. To add a figure: write a
``draw_...(fig)`` function below and add it to ``FIGURES``; ``tests/test_images.py`` checks that every figure is
regenerated, stays small, is committed and is embedded as it is in images/.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Iterable
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from PIL import Image

IMAGES_DIR = Path(__file__).resolve().parent
DPI = 100
COLORS = 64  # a palette PNG of 64 colours: a third of the bytes, the tints and anti-aliased text look the same
MAX_BYTES = 40_000  # each PNG is embedded in a notebook as base64 (a third larger): every PNG must stay below this

# Okabe and Ito's colour-blind-safe colours, the palette of utils.plotting.PALETTE (tests/test_plotting.py checks)
TRAIN, VAL, TEST, GREY = "#0072B2", "#D55E00", "#009E73", "#5f6368"
BACKWARD = "#CC79A7"  # gradients and updates, in the training-step figure


def _tint(color: str, strength: float = 0.12) -> str:
    """``color`` mixed into white: the fill behind text in that colour."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - strength * (255 - c)):02x}" for c in rgb)


TINT = {c: _tint(c) for c in (TRAIN, VAL, TEST, GREY, BACKWARD)}


# ----------------------------------------------------------------------------------------------- drawing helpers
def box(ax, x: float, y: float, w: float, h: float, color: str, *, fill: str | None = None, lw: float = 1.6,
        ls: str = "-", radius: float = 1.2) -> None:
    """A rounded rectangle with its lower-left corner at (x, y)."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={radius}", linewidth=lw,
                                linestyle=ls, edgecolor=color, facecolor=fill or TINT.get(color, "white")))


def arrow(ax, start: tuple[float, float], end: tuple[float, float], color: str = GREY, *, rad: float = 0.0,
          ls: str = "-", lw: float = 1.6) -> None:
    """An arrow from ``start`` to ``end``, bent by ``rad`` (0 = straight)."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color=color, linewidth=lw,
                                 linestyle=ls, connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2))


def text(ax, x: float, y: float, s: str, *, size: float = 9.5, color: str = "black", weight: str = "normal",
         ha: str = "center", va: str = "center", family: str = "sans-serif") -> None:
    ax.text(x, y, s, fontsize=size, color=color, fontweight=weight, ha=ha, va=va, family=family, linespacing=1.35)


def canvas(fig: Figure, width: float, height: float):
    """One axes filling the figure, in data units 0..width x 0..height, without ticks or frame."""
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return ax


# ----------------------------------------------------------------------------------------------- the figures
def draw_optimization_loops(fig: Figure) -> None:
    """The three loops of notebook 01: train (updates), validation (measures, guides choices), test (once)."""
    fig.set_size_inches(10.6, 5.8)
    ax = canvas(fig, 106, 58)
    text(ax, 53, 55.5, "Three loops, three jobs", size=14, weight="bold")

    # the data, split three ways
    text(ax, 9.5, 49.5, "the data, split once", size=9.5, color=GREY, weight="bold")
    for y, color, name, note in ((38, TRAIN, "training set", "seen every epoch"),
                                 (24, VAL, "validation set", "seen after the updates"),
                                 (6, TEST, "test set", "locked until the end")):
        box(ax, 1.5, y, 16, 8.5, color)
        text(ax, 9.5, y + 5.6, name, weight="bold", color=color)
        text(ax, 9.5, y + 2.6, note, size=8.5, color=GREY)

    # outer loop: configurations; inner loop: epochs
    box(ax, 22, 17.5, 60, 35, GREY, fill="white", ls="--", lw=1.2)
    text(ax, 52, 50.3, "for each configuration you try (learning rate, model, ...)", size=9, color=GREY)
    box(ax, 24.5, 19.5, 55, 28, GREY, fill="#fafafa", lw=1.2)
    text(ax, 52, 45.5, "for each epoch", size=9, color=GREY)

    box(ax, 27, 32, 44, 11.5, TRAIN)
    text(ax, 49, 40.8, "TRAIN LOOP: updates the parameters", weight="bold", color=TRAIN)
    text(ax, 49, 35.3, "model.train()   for each batch:\nforward -> loss -> zero_grad -> backward -> step",
         size=8.6, family="monospace")

    box(ax, 27, 21.5, 44, 8.5, VAL)
    text(ax, 49, 27.6, "VALIDATION LOOP: measures the model", weight="bold", color=VAL)
    text(ax, 49, 23.6, "model.eval()   torch.no_grad():   loss, accuracy", size=8.6, family="monospace")
    arrow(ax, (49, 32), (49, 30), TRAIN)
    arrow(ax, (71, 25.7), (71, 37.7), GREY, rad=0.75)  # back to the next epoch
    text(ax, 72.2, 31.7, "next\nepoch", size=7.5, color=GREY, ha="left")

    # validation guides the choices
    box(ax, 27, 4.5, 44, 9.5, VAL, fill="white", ls="--", lw=1.2)
    text(ax, 49, 10.9, "choose by the validation score", weight="bold", color=VAL, size=9.5)
    text(ax, 49, 7.1, "best epoch (early stopping), hyperparameters, model", size=8.6, color=GREY)
    arrow(ax, (42, 21.5), (42, 14), VAL)
    arrow(ax, (56, 14), (56, 17.5), GREY, ls="--")
    text(ax, 57, 15.8, "try another", size=8, color=GREY, ha="left")

    # the test loop: once
    box(ax, 85.5, 19, 19, 22, TEST)
    text(ax, 95, 37.5, "TEST LOOP", weight="bold", color=TEST, size=10.5)
    text(ax, 95, 30.3, "once, on the\nfinal chosen model:\nthe estimate\nyou report", size=9)
    text(ax, 95, 22.6, "eval + no_grad", size=8.5, family="monospace", color=GREY)
    arrow(ax, (71, 9.25), (90, 19), TEST, rad=0.25)
    text(ax, 83.5, 9.5, "final model", size=8.5, color=TEST, ha="left")

    # which data feeds which loop; the test set only reaches the test loop
    arrow(ax, (17.5, 42.25), (27, 37.8), TRAIN)
    arrow(ax, (17.5, 28.25), (27, 25.7), VAL)
    ax.plot([9.5, 9.5, 100], [6, 1.6, 1.6], color=TEST, linestyle=":", linewidth=1.6)
    arrow(ax, (100, 1.6), (100, 19), TEST, ls=":")


def draw_training_step(fig: Figure) -> None:
    """One optimizer step, the five lines of notebook 01: forward, loss, zero_grad, backward, step."""
    fig.set_size_inches(10.6, 3.5)
    ax = canvas(fig, 106, 35)
    text(ax, 53, 32.5, "One training step: five lines, repeated for every batch", size=13, weight="bold")
    steps = (  # (title, code, what it does, color)
        ("1  forward", "logits = model(x)", "reads the parameters\nand the batch x", TRAIN),
        ("2  loss", "loss = loss_fn(logits, y)", "one number: how\nwrong, on average", TRAIN),
        ("3  zero_grad", "optimizer.zero_grad()", "forgets the previous\nbatch's gradients", BACKWARD),
        ("4  backward", "loss.backward()", "fills p.grad for\nevery parameter p", BACKWARD),
        ("5  step", "optimizer.step()", "changes the parameters:\np -= lr * p.grad (SGD)", BACKWARD),
    )
    width, gap = 19, 2.2
    for i, (title, code, note, color) in enumerate(steps):
        x = 1.5 + i * (width + gap)
        box(ax, x, 9, width, 17, color)
        text(ax, x + width / 2, 22.8, title, weight="bold", color=color, size=10)
        text(ax, x + width / 2, 18.4, code, size=7.6, family="monospace")
        text(ax, x + width / 2, 12.6, note, size=8.2, color=GREY)
        if i:
            arrow(ax, (x - gap, 17.5), (x, 17.5), GREY)
    last = 1.5 + 4 * (width + gap) + width / 2
    ax.plot([last, last, 11], [9, 3.5, 3.5], color=GREY, linewidth=1.6)
    arrow(ax, (11, 3.5), (11, 9), GREY)
    text(ax, 53, 5.3, "next batch", size=8.5, color=GREY)


FIGURES: dict[str, Callable[[Figure], None]] = {
    "optimization_loops.png": draw_optimization_loops,
    "training_step.png": draw_training_step,
}


# ----------------------------------------------------------------------------------------------- writing
def png_bytes(fig: Figure) -> bytes:
    """``fig`` as a PNG of ``COLORS`` colours (no dithering, so flat fills stay flat)."""
    rendered = io.BytesIO()
    fig.savefig(rendered, format="png", dpi=DPI, facecolor="white")
    image = Image.open(rendered).convert("RGB").quantize(COLORS, method=Image.Quantize.MEDIANCUT,
                                                         dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)  # Pillow writes no timestamp or software name
    return out.getvalue()


def make_images(out_dir: str | Path = IMAGES_DIR, names: Iterable[str] | None = None) -> list[Path]:
    """Draw the figures ``names`` (default: all of ``FIGURES``) into ``out_dir``; return the paths written.

    PNGs carry no timestamp or version metadata, so regenerating with the same matplotlib and Pillow gives the
    same bytes and a clean ``git diff``.
    """
    names = list(FIGURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"names: unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        fig = Figure()
        FIGURES[name](fig)
        path = out_dir / name
        path.write_bytes(png_bytes(fig))
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise RuntimeError(f"{path} is {size:,} bytes, over the {MAX_BYTES:,} limit: lower DPI or simplify")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the diagrams of the notebook series.")
    parser.add_argument("names", nargs="*", help=f"figures to draw (default: all): {', '.join(FIGURES)}")
    parser.add_argument("--out", default=str(IMAGES_DIR), help="output folder (default: images/)")
    args = parser.parse_args(argv)
    for path in make_images(args.out, args.names or None):
        print(f"wrote {path} ({path.stat().st_size / 1000:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How fast does the hyperparameter explorer of notebook 05 answer a click on Train?

The targets (issue "Notebook 05"): with the default settings a run is complete, curve drawn, within 3 s
on a 2-core CPU, and its first point is drawn within 0.5 s. This script clicks Train the way a learner
does and prints, for each setting measured:

- first point: seconds from the click until the first loss point reaches the plot (the Image widget);
- complete:    seconds from the click until the handler returns (last epoch drawn, message shown);
- steps, draws: optimizer steps run and pictures rendered.

The first click in a fresh process also pays one-off costs (torch imports parts of itself on the first
optimizer step), so it is reported separately as "cold"; the warm figures are medians of ``--repeats``.

    python benchmarks/bench_explorer.py                       # digits, and a full-size FashionMNIST stand-in
    python benchmarks/bench_explorer.py --data-dir data        # the real FashionMNIST, if downloaded

It prints figures; it asserts nothing (timings depend on the machine and on what else runs on it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import torch  # noqa: E402

import utils  # noqa: E402
import utils.threads  # noqa: E402
import utils.widgets  # noqa: E402
from utils.data import write_fake_fashion_mnist  # noqa: E402
from utils.widgets import HyperparameterExplorer  # noqa: E402

# this script clicks Train again the moment a run ends, on purpose: no click here is a queued double-click
utils.widgets.QUEUED_CLICK_WINDOW_S = 0.0

SETTINGS = {  # name -> slider values
    "default (sgd, lr 0.1, batch 64, 5 epochs)": {},
    "slowest batch (batch 8, 5 epochs)": {"batch_size": 8},
    "most epochs (batch 64, 20 epochs)": {"epochs": 20},
    "diverging (lr 10)": {"lr": 10.0},
}


def click_and_time(explorer: HyperparameterExplorer, lr=0.1, batch_size=64, epochs=5, optimizer="sgd", *,
                   keep_runs: bool = False) -> dict:
    """Set the sliders, click Train, and time the first picture and the end of the run."""
    explorer.lr_slider.value = lr
    explorer.batch_slider.value = batch_size
    explorer.epochs_slider.value = epochs
    explorer.optimizer_dropdown.value = optimizer
    updates: list[float] = []

    def on_new_picture(change) -> None:
        updates.append(time.perf_counter())

    explorer.image.observe(on_new_picture, names="value")
    start = time.perf_counter()
    explorer.train_button.click()
    end = time.perf_counter()
    explorer.image.unobserve(on_new_picture, names="value")
    history = explorer.runs[-1]
    if not keep_runs:
        explorer.clear_button.click()  # measure each run on its own, without earlier runs to draw
    return {"first": updates[0] - start, "total": end - start, "steps": len(history.step_loss), "draws": len(updates),
            "diverged": history.diverged}


def bench(splits, repeats: int) -> None:
    explorer = HyperparameterExplorer(splits, device="cpu")
    print(f"\n{splits.name}: {len(explorer.data.train):,} training / {len(explorer.data.val):,} validation samples, "
          f"MLP with {explorer.hidden} hidden units, device cpu, {utils.threads.thread_count()} torch thread(s) "
          "while training (the series' thread policy)")
    cold = click_and_time(explorer)
    print(f"  {'cold first click (default settings)':44s} first point {cold['first']:5.2f} s   complete {cold['total']:5.2f} s"
          f"   ({cold['steps']} steps, {cold['draws']} draws)")
    for name, overrides in SETTINGS.items():
        runs = [click_and_time(explorer, **overrides) for _ in range(repeats)]
        first = statistics.median(r["first"] for r in runs)
        total = statistics.median(r["total"] for r in runs)
        note = "  diverged" if runs[0]["diverged"] else ""
        print(f"  {name:44s} first point {first:5.2f} s   complete {total:5.2f} s   ({runs[0]['steps']} steps, "
              f"{runs[0]['draws']} draws){note}")
    for _ in range(3):  # the live plot with earlier runs to overlay
        click_and_time(explorer, keep_runs=True)
    with_background = [click_and_time(explorer, keep_runs=True) for _ in range(repeats)]
    print(f"  {'default, over 3+ earlier runs':44s} first point "
          f"{statistics.median(r['first'] for r in with_background):5.2f} s   complete "
          f"{statistics.median(r['total'] for r in with_background):5.2f} s")
    # why the explorer trains on one thread: the same clicks with torch's own number of threads
    explorer.threads = utils.threads.TORCH_DEFAULT
    default_threads = [click_and_time(explorer) for _ in range(repeats)]
    print(f"  {f'default, {utils.threads.TORCH_DEFAULT} threads (torch default)':44s} first point "
          f"{statistics.median(r['first'] for r in default_threads):5.2f} s   complete "
          f"{statistics.median(r['total'] for r in default_threads):5.2f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="a folder with FashionMNIST/raw (default: write a full-size stand-in "
                                           "to a temporary folder)")
    parser.add_argument("--repeats", type=int, default=3, help="warm runs per setting (median is printed)")
    parser.add_argument("--skip-digits", action="store_true")
    args = parser.parse_args(argv)

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs visible, torch threads {torch.get_num_threads()}")
    print("Targets for the default settings: first point <= 0.5 s, complete <= 3 s (2-core CPU).")
    if not args.skip_digits:
        bench(utils.load_dataset("digits", verbose=False), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_dir
        if root is None:
            write_fake_fashion_mnist(tmp)
            root = tmp
        splits = utils.load_dataset("fashion_mnist", root=root, download=False, verbose=False)
        bench(splits, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

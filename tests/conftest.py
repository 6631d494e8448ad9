"""Shared fixtures. Unit tests never touch the network: they use the bundled digits or IDX files they write."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from utils.data import load_dataset, write_fake_fashion_mnist  # noqa: E402
from utils.threads import apply_thread_policy, thread_count  # noqa: E402

# The tests' models are as small as the notebooks', so they get the series' thread policy too (one thread unless
# OPTIM_THREADS says otherwise): with torch's default of one thread per core, two xdist workers on two cores ran
# four threads and the fast suite took a third longer.
apply_thread_policy()


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: as many workers as the cores can give each its threads (OPTIM_THREADS=2 on 2 cores: one)."""
    return max(1, (os.cpu_count() or 1) // thread_count())


def _notebook_seconds() -> dict[str, float]:
    """Each notebook's last measured run time (docs/run_times.json, on the stand-in): only to order the items."""
    try:
        notebooks = json.loads((ROOT / "docs" / "run_times.json").read_text(encoding="utf-8"))["notebooks"]
        return {name: float(entry["whole_s"]) for name, entry in notebooks.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def pytest_collection_modifyitems(config, items):
    """Under ``-n N --dist worksteal`` each worker first gets an equal, contiguous share of the items, in order.
    The notebooks and then the tests marked slow (they start processes) are the longest items: give each share its
    part of them, first in the share (each notebook, longest first, to the share with the least notebook time so
    far; the slow tests in turn), so that the items left for the end are short and no long one runs alone while
    the other workers idle. The order changes nothing else: every test is independent of the others."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)  # set in xdist's workers only
    notebooks = [item for item in items if item.path.suffix == ".ipynb"]
    if workers < 2 or not notebooks:
        return
    seconds = _notebook_seconds()
    typical = sum(seconds.values()) / len(seconds) if seconds else 1.0
    notebooks.sort(key=lambda item: -seconds.get(item.path.name, typical))
    slow = [item for item in items if item.path.suffix != ".ipynb" and item.get_closest_marker("slow")]
    heavy = {id(item) for item in notebooks + slow}
    rest = [item for item in items if id(item) not in heavy]
    sizes, left = [], len(items)
    for i in range(workers):  # as xdist cuts the list: each idle worker its share of what is left
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    shares, load = [[] for _ in range(workers)], [0.0] * workers
    for item in notebooks + slow:
        room = [j for j in range(workers) if len(shares[j]) < sizes[j]]
        if not room:
            return  # fewer items than long ones to spread: keep pytest's order
        i = min(room, key=lambda j: load[j])
        shares[i].append(item)
        load[i] += seconds.get(item.path.name, typical) if item.path.suffix == ".ipynb" else 1.0
    ordered, position = [], 0
    for share, size in zip(shares, sizes):
        fill = size - len(share)
        ordered += share + rest[position:position + fill]
        position += fill
    items[:] = ordered


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits as Splits (train 1,294 / val 144 / test 359)."""
    return load_dataset("digits", verbose=False)


@pytest.fixture
def fashion_root(tmp_path):
    """A data folder holding a small FashionMNIST-format stand-in (600 train, 100 test images)."""
    write_fake_fashion_mnist(tmp_path, n_train=600, n_test=100, seed=1)
    return tmp_path


@pytest.fixture(scope="session")
def standin_root(tmp_path_factory):
    """A full-size (60,000 + 10,000) FashionMNIST-format stand-in, written once per session."""
    root = tmp_path_factory.mktemp("standin")
    write_fake_fashion_mnist(root)
    return root

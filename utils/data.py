"""Datasets, train/validation/test splits and fast loaders.

Explained in notebooks/00_start_here.ipynb (where the data comes from) and
notebooks/01_optimization_loops.ipynb (splits and batches).

The series trains on FashionMNIST, read with torchvision's own loader from ``data/`` at the repository
root (override with the environment variable ``OPTIM_DATA_DIR``). When FashionMNIST is neither on disk
nor downloadable, ``load_dataset("auto")`` falls back, loudly, to scikit-learn's bundled 8x8 handwritten
digits, so every notebook still runs offline. Pre-download before a workshop with::

    python -m utils.data
"""

from __future__ import annotations

import argparse
import os
import struct
import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from .device import to_device

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV_VAR = "OPTIM_DATA_DIR"
OFFLINE_ENV_VAR = "OPTIM_OFFLINE"
DATASETS = ("auto", "fashion_mnist", "digits")

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
# name on disk -> (number of items, shape of one item); () for a label file
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte": (60_000, (28, 28)),
    "train-labels-idx1-ubyte": (60_000, ()),
    "t10k-images-idx3-ubyte": (10_000, (28, 28)),
    "t10k-labels-idx1-ubyte": (10_000, ()),
}
DIGITS_TEST_SEED = 20_240_601  # fixed: the digits test set is the same whatever seed a notebook uses

_failed_downloads: set[str] = set()


class DatasetFileError(RuntimeError):
    """A dataset file is missing, truncated or not in the expected format. The message names the file."""


class DatasetFallbackWarning(UserWarning):
    """FashionMNIST was not available, so the bundled digits are used instead."""


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``root`` if given, else ``$OPTIM_DATA_DIR``, else ``data/`` in the repository."""
    if root is not None:
        return Path(root)
    env = os.environ.get(DATA_DIR_ENV_VAR)
    return Path(env) if env else REPO_ROOT / "data"


def fashion_mnist_raw_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder torchvision's ``FashionMNIST`` reads its four IDX files from."""
    return data_dir(root) / "FashionMNIST" / "raw"


# ----------------------------------------------------------------------------------------------- IDX files
def check_idx_file(path: str | os.PathLike, expected_items: int | None = None) -> tuple[int, ...]:
    """Check one IDX file (the format of MNIST and FashionMNIST) and return its shape.

    Raises ``DatasetFileError`` naming the file when it is missing, has a bad header, or is shorter or
    longer than its header says (an interrupted download).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFileError(f"dataset file is missing: {path}. Run `python -m utils.data` to download it.")
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(4)
        if len(header) < 4 or header[:2] != b"\x00\x00" or header[2] != 0x08:
            raise DatasetFileError(f"{path} is not an unsigned-byte IDX file (bad header); delete it and download again")
        ndim = header[3]
        dims_raw = f.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DatasetFileError(f"{path} is truncated inside its header; delete it and download again")
    shape = struct.unpack(f">{ndim}i", dims_raw)
    expected = 4 + 4 * ndim + int(np.prod(shape))
    if size != expected:
        raise DatasetFileError(
            f"{path} is truncated or corrupt: its header promises {expected:,} bytes, the file has {size:,}. "
            "Delete it and run `python -m utils.data` again."
        )
    if expected_items is not None and shape[0] != expected_items:
        raise DatasetFileError(f"{path} holds {shape[0]:,} items, expected {expected_items:,}")
    return tuple(shape)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (used by tests and benchmarks to build stand-in data)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    path.write_bytes(header + array.tobytes())


def write_fake_fashion_mnist(root: str | os.PathLike, n_train: int = 60_000, n_test: int = 10_000, seed: int = 0) -> Path:
    """Write random images and labels in FashionMNIST's file layout under ``root``.

    A stand-in with the real sizes lets tests and timing scripts exercise torchvision's real loader
    offline. Each class has its own random prototype image; a sample is its class prototype mixed with
    noise, and one label in ten is random: a model can learn it (learning curves look like learning, accuracy
    stays below 100%), but it is not FashionMNIST.
    Returns the raw folder.
    """
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 256, size=(10, 28, 28)).astype(np.float32)
    raw = fashion_mnist_raw_dir(root)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        classes = rng.integers(0, 10, size=n)
        noise = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images = (0.35 * prototypes[classes] + 0.65 * noise).astype(np.uint8)
        # one label in ten is random, so accuracy tops out near 90%, as on the real data
        relabel = rng.random(n) < 0.1
        labels = np.where(relabel, rng.integers(0, 10, size=n), classes).astype(np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw


def fashion_mnist_status(root: str | os.PathLike | None = None) -> dict[str, str]:
    """For each FashionMNIST file: ``"ok (N items)"``, ``"missing"`` or the problem found."""
    status = {}
    for name in FASHION_MNIST_FILES:
        path = fashion_mnist_raw_dir(root) / name
        if not path.exists():
            status[name] = "missing"
            continue
        try:
            shape = check_idx_file(path)
            status[name] = f"ok ({shape[0]:,} items)"
        except DatasetFileError as err:
            status[name] = f"problem: {err}"
    return status


def fashion_mnist_on_disk(root: str | os.PathLike | None = None) -> bool:
    """True when all four FashionMNIST files are on disk and intact."""
    return all(s.startswith("ok") for s in fashion_mnist_status(root).values())


def download_fashion_mnist(root: str | os.PathLike | None = None) -> Path:
    """Download FashionMNIST with torchvision into the data folder (a no-op when it is already there)."""
    from torchvision import datasets

    root = data_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    datasets.FashionMNIST(str(root), train=True, download=True)
    datasets.FashionMNIST(str(root), train=False, download=True)
    return fashion_mnist_raw_dir(root)


def _read_fashion_mnist(root: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images (uint8, N x 28 x 28) and labels for train and test, parsed by torchvision."""
    from torchvision import datasets

    for name in FASHION_MNIST_FILES:
        check_idx_file(fashion_mnist_raw_dir(root) / name)
    train = datasets.FashionMNIST(str(root), train=True, download=False)
    test = datasets.FashionMNIST(str(root), train=False, download=False)
    return train.data, train.targets, test.data, test.targets


# ----------------------------------------------------------------------------------------------- splits
@dataclass
class Splits:
    """A dataset split three ways. ``train`` and ``val`` come from the original training set; ``test``
    is held out and should be used once, at the very end (notebook 01 shows why)."""

    name: str
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    classes: list[str]
    input_shape: tuple[int, ...]
    fallback_reason: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason is not None

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(getattr(self, k)):,}" for k in ("train", "val", "test"))
        return f"Splits({self.name!r}, {sizes}, input_shape={self.input_shape}, classes={self.num_classes})"


def split_train_val(dataset: TensorDataset, val_fraction: float, seed: int) -> tuple[TensorDataset, TensorDataset]:
    """Carve a validation set out of ``dataset`` with a seeded permutation (same seed, same split)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    x, y = dataset.tensors
    n_val = max(1, round(len(x) * val_fraction))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
    return TensorDataset(x[train_idx], y[train_idx]), TensorDataset(x[val_idx], y[val_idx])


def _fallback_banner(reason: str) -> str:
    lines = [
        "FashionMNIST is not available, so this notebook uses scikit-learn's bundled handwritten digits",
        "(1,797 images of 8x8 pixels, 10 classes) instead.",
        *textwrap.wrap(f"Why: {reason}", 96),
        "Numbers quoted in the text (accuracies, losses, timings) refer to FashionMNIST; yours will differ.",
        "To get FashionMNIST, run once while online:   python -m utils.data",
    ]
    width = max(len(line) for line in lines) + 4
    bar = "!" * width
    return "\n".join([bar, *[f"! {line.ljust(width - 4)} !" for line in lines], bar])


def _fashion_mnist_tensors(root: Path, download: bool) -> tuple[torch.Tensor, ...]:
    status = fashion_mnist_status(root)
    if not all(s.startswith("ok") for s in status.values()):
        problems = {k: v for k, v in status.items() if not v.startswith("ok") and v != "missing"}
        if problems:  # a broken download: name the file instead of hiding it behind a fallback
            name, problem = next(iter(problems.items()))
            raise DatasetFileError(problem.removeprefix("problem: "))
        if not download:
            missing = [k for k, v in status.items() if v == "missing"]
            raise DatasetFileError(
                f"FashionMNIST file {fashion_mnist_raw_dir(root) / missing[0]} is missing "
                "(download is off). Run `python -m utils.data` while online."
            )
        missing = [k for k, v in status.items() if v == "missing"]
        try:
            download_fashion_mnist(root)
        except Exception as err:
            raise DatasetFileError(
                f"FashionMNIST file {fashion_mnist_raw_dir(root) / missing[0]} is missing and the download failed "
                f"({type(err).__name__}: {err}). Run `python -m utils.data` while online, or use name='digits'."
            ) from err
    return _read_fashion_mnist(root)


def _digits_tensors() -> tuple[torch.Tensor, ...]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32) / 16.0  # pixel values are 0..16
    y = torch.tensor(digits.target, dtype=torch.long)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(DIGITS_TEST_SEED))
    n_test = round(0.2 * len(x))
    test_idx, train_idx = perm[:n_test].sort().values, perm[n_test:].sort().values
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def load_dataset(
    name: str = "auto",
    *,
    root: str | os.PathLike | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    download: bool | None = None,
    verbose: bool = True,
) -> Splits:
    """Load a dataset as train / validation / test tensors (images scaled to [0, 1], shape N x 1 x H x W).

    ``name``: ``"fashion_mnist"`` (28x28 clothing, 60,000 + 10,000), ``"digits"`` (scikit-learn's 8x8
    handwritten digits, 1,797) or ``"auto"``: FashionMNIST when it is on disk or can be downloaded,
    otherwise the digits, announced by a banner and a ``DatasetFallbackWarning``.

    ``val_fraction`` of the training set becomes the validation set, chosen by ``seed``. ``download``
    defaults to True unless the environment variable ``OPTIM_OFFLINE`` is set.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if download is None:
        download = os.environ.get(OFFLINE_ENV_VAR, "") in ("", "0")
    root = data_dir(root)
    fallback_reason = None

    if name == "auto":
        status = fashion_mnist_status(root)
        on_disk = all(s.startswith("ok") for s in status.values())
        nothing_there = all(s == "missing" for s in status.values())
        if on_disk or not nothing_there:
            name = "fashion_mnist"  # partly there: let the fashion_mnist path name the broken file
        elif not download:
            fallback_reason = f"it is not in {fashion_mnist_raw_dir(root)} and downloading is off ({OFFLINE_ENV_VAR} is set)"
        elif str(root) in _failed_downloads:
            fallback_reason = f"it is not in {fashion_mnist_raw_dir(root)} and an earlier download attempt failed"
        else:
            try:
                download_fashion_mnist(root)
                name = "fashion_mnist"
            except Exception as err:  # no network, proxy, certificate problem, ...
                _failed_downloads.add(str(root))
                detail = (str(err).strip().splitlines() or [type(err).__name__])[-1]
                fallback_reason = f"it is not in {fashion_mnist_raw_dir(root)} and the download failed: {detail}"
        if fallback_reason is not None:
            name = "digits"

    if name == "fashion_mnist":
        x_train, y_train, x_test, y_test = _fashion_mnist_tensors(root, download)
        x_train = x_train.unsqueeze(1).float().div_(255.0)
        x_test = x_test.unsqueeze(1).float().div_(255.0)
        classes = list(FASHION_MNIST_CLASSES)
    else:
        x_train, y_train, x_test, y_test = _digits_tensors()
        x_train, x_test = x_train.unsqueeze(1), x_test.unsqueeze(1)
        classes = [str(d) for d in range(10)]

    train, val = split_train_val(TensorDataset(x_train, y_train.long()), val_fraction, seed)
    splits = Splits(
        name=name,
        train=train,
        val=val,
        test=TensorDataset(x_test, y_test.long()),
        classes=classes,
        input_shape=tuple(x_train.shape[1:]),
        fallback_reason=fallback_reason,
    )
    if fallback_reason is not None:
        banner = _fallback_banner(fallback_reason)
        splits.notes.append(banner)
        if verbose:
            print(banner, flush=True)
        warnings.warn(f"FashionMNIST unavailable, using the bundled digits instead: {fallback_reason}", DatasetFallbackWarning, stacklevel=2)
    elif verbose:
        print(f"Dataset: {splits}")
    return splits


def subset(dataset: TensorDataset, n: int | None = None, *, per_class: int | None = None) -> TensorDataset:
    """The first ``n`` samples, or the first ``per_class`` samples of every class (in original order)."""
    if (n is None) == (per_class is None):
        raise ValueError("give exactly one of n or per_class")
    x, y = dataset.tensors
    if n is not None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        return TensorDataset(x[:n], y[:n])
    if not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class!r}")
    picked = []
    for c in y.unique().tolist():
        idx = (y == c).nonzero().flatten()
        if len(idx) < per_class:
            raise ValueError(f"class {c} has only {len(idx)} samples, fewer than per_class={per_class}")
        picked.append(idx[:per_class])
    keep = torch.cat(picked).sort().values
    return TensorDataset(x[keep], y[keep])


# ----------------------------------------------------------------------------------------------- loaders
def _check_batch_size(batch_size: int, argument: str = "batch_size") -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{argument} must be a positive integer (1, 2, ...), got {batch_size!r}")


class TensorLoader:
    """Batches from tensors held in memory (on the training device), by index slicing.

    A drop-in for ``DataLoader`` over a small dataset: ``for x, y in loader``. With ``shuffle=True``
    each pass draws a new permutation from a generator seeded once with ``seed``, so epoch 1, 2, ...
    see different orders and a rerun with the same seed sees the same ones. Every sample appears exactly
    once per epoch; the last batch may be smaller.
    """

    def __init__(self, dataset: TensorDataset, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 device: torch.device | str | None = None):
        _check_batch_size(batch_size)
        x, y = dataset.tensors
        self.device = torch.device(device) if device is not None else x.device
        self.x = to_device(x, self.device)
        self.y = to_device(y, self.device)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, bs = len(self.x), self.batch_size
        if not self.shuffle:
            for start in range(0, n, bs):
                yield self.x[start:start + bs], self.y[start:start + bs]
            return
        order = to_device(torch.randperm(n, generator=self.generator), self.device)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            yield self.x[idx], self.y[idx]


class Loaders(NamedTuple):
    train: TensorLoader | DataLoader
    val: TensorLoader | DataLoader
    test: TensorLoader | DataLoader


def make_loaders(splits: Splits, batch_size: int = 64, *, device: torch.device | str | None = None, seed: int = 0,
                 eval_batch_size: int = 1000, kind: str = "tensor") -> Loaders:
    """Loaders for the three splits: the training one shuffles (seeded), validation and test do not.

    ``kind="tensor"`` (default) keeps the data on ``device`` and slices batches (fast);
    ``kind="dataloader"`` uses torch's ``DataLoader`` (for data that does not fit in memory; batches are
    moved to the device by the training loop).
    """
    _check_batch_size(batch_size)
    _check_batch_size(eval_batch_size, "eval_batch_size")
    if kind == "tensor":
        return Loaders(
            TensorLoader(splits.train, batch_size, shuffle=True, seed=seed, device=device),
            TensorLoader(splits.val, eval_batch_size, device=device),
            TensorLoader(splits.test, eval_batch_size, device=device),
        )
    if kind == "dataloader":
        pin = device is not None and torch.device(device).type == "cuda"
        return Loaders(
            DataLoader(splits.train, batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed), pin_memory=pin),
            DataLoader(splits.val, eval_batch_size, pin_memory=pin),
            DataLoader(splits.test, eval_batch_size, pin_memory=pin),
        )
    raise ValueError(f"unknown loader kind {kind!r}; choose 'tensor' or 'dataloader'")


# ----------------------------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``python -m utils.data``: download FashionMNIST (unless --check) and report what is on disk."""
    parser = argparse.ArgumentParser(description="Pre-download FashionMNIST for the notebooks and report what is on disk.")
    parser.add_argument("--root", help=f"data folder (default: ${DATA_DIR_ENV_VAR} or {REPO_ROOT / 'data'})")
    parser.add_argument("--check", action="store_true", help="only report, do not download")
    args = parser.parse_args(argv)
    root = data_dir(args.root)
    if not args.check and not fashion_mnist_on_disk(root):
        print(f"Downloading FashionMNIST into {root} ...")
        try:
            download_fashion_mnist(root)
        except Exception as err:
            print(f"Download failed: {type(err).__name__}: {err}")
    print(f"FashionMNIST in {fashion_mnist_raw_dir(root)}:")
    for name, state in fashion_mnist_status(root).items():
        print(f"  {name:26s} {state}")
    ok = fashion_mnist_on_disk(root)
    print("Ready: the notebooks will use FashionMNIST." if ok else
          "Not ready: the notebooks will fall back to scikit-learn's digits.")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

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
import importlib.util
import os
import struct
import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from .checks import finite_number, positive_int
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
FASHION_MNIST_PAIRS = (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                       ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
DIGITS_TEST_SEED = 20_240_601  # fixed: the digits test set is the same whatever seed a notebook uses
FIX = "Delete it and run `python -m utils.data` again (online), or load name='digits'."

_failed_downloads: set[str] = set()


class DatasetFileError(RuntimeError):
    """A dataset file is missing, truncated or not in the expected format. The message names the file."""


class DatasetFallbackWarning(UserWarning):
    """FashionMNIST was not available, so the bundled digits are used instead."""


class DatasetSizeWarning(UserWarning):
    """The FashionMNIST files are consistent but hold fewer (or more) items than the real dataset."""


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
def check_idx_file(path: str | os.PathLike) -> tuple[int, ...]:
    """Check one IDX file (the format of MNIST and FashionMNIST) and return its shape.

    Raises ``DatasetFileError`` naming the file when it is missing, unreadable, has a bad header, or is
    shorter or longer than its header says (an interrupted download).
    """
    path = Path(path)
    if path.is_dir():
        raise DatasetFileError(f"{path} is a folder, not a dataset file. Remove it and run `python -m utils.data`.")
    if not path.is_file():
        raise DatasetFileError(f"dataset file is missing: {path}. Run `python -m utils.data` to download it.")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            header = f.read(4)
            if len(header) < 4 or header[:2] != b"\x00\x00" or header[2] != 0x08:
                raise DatasetFileError(f"{path} is not an unsigned-byte IDX file (bad header). {FIX}")
            ndim = header[3]
            dims_raw = f.read(4 * ndim)
    except OSError as err:  # e.g. no permission to read it
        raise DatasetFileError(f"{path} cannot be read ({type(err).__name__}: {err.strerror or err}).") from err
    if ndim == 0:
        raise DatasetFileError(f"{path} has a header with 0 dimensions: it holds no items. {FIX}")
    if len(dims_raw) < 4 * ndim:
        raise DatasetFileError(f"{path} is truncated inside its header. {FIX}")
    shape = struct.unpack(f">{ndim}i", dims_raw)
    expected = 4 + 4 * ndim + int(np.prod(shape))
    if size != expected:
        raise DatasetFileError(
            f"{path} is truncated or corrupt: its header promises {expected:,} bytes, the file has {size:,}. {FIX}"
        )
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


def _check_fashion_mnist_file(path: Path) -> tuple[int, ...]:
    """``check_idx_file`` plus what FashionMNIST needs of this file: images N x 28 x 28, labels N, in 0..9."""
    shape = check_idx_file(path)
    _, item_shape = FASHION_MNIST_FILES[path.name]
    kind = "image" if item_shape else "label"
    if tuple(shape[1:]) != item_shape:
        want = "N x 28 x 28 (N images of 28x28 pixels)" if item_shape else "N (one label per image)"
        swapped = " Are the image and label files swapped?" if len(shape) != len(item_shape) + 1 else ""
        raise DatasetFileError(f"{path} is not a FashionMNIST {kind} file: its shape is {' x '.join(map(str, shape))}, "
                               f"expected {want}.{swapped} {FIX}")
    if not item_shape:
        top = int(np.fromfile(path, dtype=np.uint8, offset=8).max(initial=0))
        if top >= len(FASHION_MNIST_CLASSES):
            raise DatasetFileError(f"{path} holds the label {top}; FashionMNIST's labels are 0 to 9. {FIX}")
    return shape


def fashion_mnist_status(root: str | os.PathLike | None = None) -> dict[str, str]:
    """For each FashionMNIST file: ``"ok (N items)"``, ``"missing"`` or ``"problem: ..."`` (what is wrong,
    naming the file). An image file and its label file must hold the same number of items."""
    return _inspect_fashion_mnist(root)[0]


def _inspect_fashion_mnist(root) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """``fashion_mnist_status`` and the shape of every intact file."""
    raw = fashion_mnist_raw_dir(root)
    status, shapes = {}, {}
    for name in FASHION_MNIST_FILES:
        path = raw / name
        if not path.exists() and not path.is_symlink():
            status[name] = "missing"
            continue
        try:
            shapes[name] = _check_fashion_mnist_file(path)
            status[name] = f"ok ({shapes[name][0]:,} items)"
        except DatasetFileError as err:
            status[name] = f"problem: {err}"
    for images, labels in FASHION_MNIST_PAIRS:
        if images in shapes and labels in shapes and shapes[images][0] != shapes[labels][0]:
            status[labels] = (f"problem: {raw / labels} holds {shapes[labels][0]:,} labels but {raw / images} holds "
                              f"{shapes[images][0]:,} images; they must match. {FIX}")
            del shapes[labels]
    return status, shapes


def fashion_mnist_state(root: str | os.PathLike | None = None) -> tuple[str, str]:
    """What ``load_dataset`` will do with the files in ``root``, as ``(state, detail)``.

    ``"ready"``: all four files are intact (``detail`` notes sizes other than the real 60,000 / 10,000);
    ``"absent"``: none is there (``"auto"`` downloads or falls back to the digits); ``"broken"``: some are
    missing or damaged, and loading stops with ``DatasetFileError(detail)``, which names the file and the fix.
    The one rule used by ``load_dataset``, ``fashion_mnist_on_disk`` and ``python -m utils.data --check``.
    """
    raw = fashion_mnist_raw_dir(root)
    status, shapes = _inspect_fashion_mnist(root)
    problems = [v.removeprefix("problem: ") for v in status.values() if v.startswith("problem: ")]
    missing = [k for k, v in status.items() if v == "missing"]
    if problems:
        return "broken", problems[0]
    if len(missing) == len(status):
        return "absent", f"it is not in {raw}"
    if missing:
        return "broken", (f"FashionMNIST file {raw / missing[0]} is missing while the others are there. Run "
                          "`python -m utils.data` while online to complete the set, or load name='digits'.")
    too_many = [name for name, _ in FASHION_MNIST_PAIRS if shapes[name][0] > FASHION_MNIST_FILES[name][0]]
    if too_many:  # more than the real set: not FashionMNIST, and reading it could exhaust the memory
        name = too_many[0]
        return "broken", (f"{raw / name} holds {shapes[name][0]:,} images, more than FashionMNIST's "
                          f"{FASHION_MNIST_FILES[name][0]:,}: it is not FashionMNIST. {FIX}")
    odd = [f"{raw / name} holds {shapes[name][0]:,} images, FashionMNIST has {FASHION_MNIST_FILES[name][0]:,}"
           for name, _ in FASHION_MNIST_PAIRS if shapes[name][0] != FASHION_MNIST_FILES[name][0]]
    return "ready", ("; ".join(odd) + ": this is not the full FashionMNIST (a stand-in?)") if odd else ""


def fashion_mnist_on_disk(root: str | os.PathLike | None = None) -> bool:
    """True when all four FashionMNIST files are on disk, intact and consistent."""
    return fashion_mnist_state(root)[0] == "ready"


def download_fashion_mnist(root: str | os.PathLike | None = None) -> Path:
    """Download FashionMNIST with torchvision into the data folder (a no-op when it is already there)."""
    from torchvision import datasets

    root = data_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    datasets.FashionMNIST(str(root), train=True, download=True)
    datasets.FashionMNIST(str(root), train=False, download=True)
    return fashion_mnist_raw_dir(root)


def _read_fashion_mnist(root: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images (uint8, N x 28 x 28) and labels for train and test, parsed by torchvision (files checked first)."""
    from torchvision import datasets

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
    val_fraction = finite_number(val_fraction, "val_fraction", low=0, high=1, low_open=True, high_open=True,
                                 example="0.1")
    x, y = dataset.tensors
    n_val = max(1, round(len(x) * val_fraction))
    if n_val >= len(x):
        raise ValueError(f"val_fraction={val_fraction:g} of {len(x):,} samples leaves no training samples; "
                         "use a smaller fraction (e.g. 0.1)")
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
    return TensorDataset(x[train_idx], y[train_idx]), TensorDataset(x[val_idx], y[val_idx])


def _fallback_banner(reason: str) -> str:
    lines = [
        "FashionMNIST is not available, so this notebook uses scikit-learn's bundled handwritten digits",
        "(1,797 images of 8x8 pixels, 10 classes) instead.",
        *textwrap.wrap(f"Why: {reason}", 96),
        "Numbers quoted in the text (accuracies, losses, timings) refer to FashionMNIST; yours will differ.",
        "To get FashionMNIST, run once while online, in a cell:   utils.data.download_fashion_mnist()",
        "(or in a terminal, in the repository: python -m utils.data), then run the notebook again.",
    ]
    width = max(len(line) for line in lines) + 4
    bar = "!" * width
    return "\n".join([bar, *[f"! {line.ljust(width - 4)} !" for line in lines], bar])


def _fashion_mnist_tensors(root: Path, download: bool) -> tuple[torch.Tensor, ...]:
    """The four FashionMNIST tensors; downloads them first when none is there and ``download`` is on.
    Anything else that is not ``"ready"`` raises ``DatasetFileError`` naming the file and the fix."""
    state, detail = fashion_mnist_state(root)
    if state == "absent":
        if not download:
            raise DatasetFileError(f"FashionMNIST file {fashion_mnist_raw_dir(root) / next(iter(FASHION_MNIST_FILES))} "
                                   "is missing (download is off). Run `python -m utils.data` while online.")
        try:
            download_fashion_mnist(root)
        except Exception as err:
            raise DatasetFileError(
                f"FashionMNIST is not in {fashion_mnist_raw_dir(root)} and the download failed "
                f"({type(err).__name__}: {err}). Run `python -m utils.data` while online, or use name='digits'."
            ) from err
        state, detail = fashion_mnist_state(root)
    if state != "ready":
        raise DatasetFileError(detail)
    if detail:
        warnings.warn(detail, DatasetSizeWarning, stacklevel=3)
    return _read_fashion_mnist(root)


DIGITS_FILE = Path("datasets", "data", "digits.csv.gz")  # inside scikit-learn's package folder


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: images (1,797 x 8 x 8, values 0..16) and labels.

    Read from the file scikit-learn ships, ``sklearn/datasets/data/digits.csv.gz`` (one image per row, its label
    last), which is what ``load_digits`` reads, without importing scikit-learn: that import takes about a second
    in every process (each notebook's kernel, each worker of a tuning or torchrun example). Where the file is
    missing or not as expected, ``load_digits`` itself."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    folders = list(spec.submodule_search_locations or []) if spec else []
    if folders:
        try:
            data = np.loadtxt(Path(folders[0]) / DIGITS_FILE, delimiter=",")
        except (OSError, ValueError):
            data = None
        if data is not None and data.shape == (1797, 65):
            return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def _digits_tensors() -> tuple[torch.Tensor, ...]:
    images, labels = _digits_arrays()
    x = torch.tensor(images, dtype=torch.float32) / 16.0  # pixel values are 0..16
    y = torch.tensor(labels, dtype=torch.long)
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
        if fashion_mnist_state(root)[0] != "absent":
            name = "fashion_mnist"  # there, or partly there: the fashion_mnist path names a broken file
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
        _announce_fallback(fallback_reason, verbose)
    elif verbose:
        print(f"Dataset: {splits}")
    return splits


def _announce_fallback(reason: str, verbose: bool) -> None:
    """In a notebook: the banner alone (a warning would add a pink stderr box that learners read as an
    error). In a script: the banner when ``verbose``, and always a ``DatasetFallbackWarning``."""
    from .plotting import in_notebook  # imported here: plotting sits downstream of data

    if verbose or in_notebook():
        print(_fallback_banner(reason), flush=True)
    if not in_notebook():
        warnings.warn(f"FashionMNIST unavailable, using the bundled digits instead: {reason}", DatasetFallbackWarning,
                      stacklevel=3)


def subset(dataset: TensorDataset, n: int | None = None, *, per_class: int | None = None) -> TensorDataset:
    """The first ``n`` samples, or the first ``per_class`` samples of every class (in original order)."""
    if (n is None) == (per_class is None):
        raise ValueError("give exactly one of n or per_class")
    x, y = dataset.tensors
    if n is not None:
        n = positive_int(n, "n")
        return TensorDataset(x[:n], y[:n])
    per_class = positive_int(per_class, "per_class")
    if not len(y):
        raise ValueError(f"the dataset is empty: there are no samples to pick per_class={per_class} of each class from")
    picked = []
    for c in y.unique().tolist():
        idx = (y == c).nonzero().flatten()
        if len(idx) < per_class:
            raise ValueError(f"class {c} has only {len(idx)} samples, fewer than per_class={per_class}")
        picked.append(idx[:per_class])
    keep = torch.cat(picked).sort().values
    return TensorDataset(x[keep], y[keep])


# ----------------------------------------------------------------------------------------------- loaders
class TensorLoader:
    """Batches from tensors held in memory (on the training device), by index slicing.

    A drop-in for ``DataLoader`` over a small dataset: ``for x, y in loader``. With ``shuffle=True``
    each pass draws a new permutation from a generator seeded once with ``seed``, so epoch 1, 2, ...
    see different orders and a rerun with the same seed sees the same ones. Every sample appears exactly
    once per epoch; the last batch may be smaller.
    """

    def __init__(self, dataset: TensorDataset, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 device: torch.device | str | None = None):
        batch_size = positive_int(batch_size, "batch_size")
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
    batch_size = positive_int(batch_size, "batch_size")
    eval_batch_size = positive_int(eval_batch_size, "eval_batch_size")
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
    """``python -m utils.data``: download FashionMNIST (unless --check) and report what ``load_dataset``
    will do with what is on disk (exit code 0 only when it will use FashionMNIST)."""
    parser = argparse.ArgumentParser(description="Pre-download FashionMNIST for the notebooks and report what is on disk.")
    parser.add_argument("--root", help=f"data folder (default: ${DATA_DIR_ENV_VAR} or {REPO_ROOT / 'data'})")
    parser.add_argument("--check", action="store_true", help="only report, do not download")
    args = parser.parse_args(argv)
    root = data_dir(args.root)
    if not args.check and fashion_mnist_state(root)[0] == "absent":
        print(f"Downloading FashionMNIST into {root} ...")
        try:
            download_fashion_mnist(root)
        except Exception as err:
            print(f"Download failed: {type(err).__name__}: {err}")
    print(f"FashionMNIST in {fashion_mnist_raw_dir(root)}:")
    for name, state in fashion_mnist_status(root).items():
        print(f"  {name:26s} {state}")
    state, detail = fashion_mnist_state(root)
    if state == "ready":
        print("Ready: the notebooks will use FashionMNIST." + (f"\nNote: {detail}." if detail else ""))
    elif state == "absent":
        print("Not there: the notebooks will download it when online, else fall back to scikit-learn's digits. "
              "Run `python -m utils.data` while online to get it.")
    else:
        print(f"Broken: the notebooks will stop with DatasetFileError: {detail}")
    return 0 if state == "ready" else 1


if __name__ == "__main__":
    raise SystemExit(main())

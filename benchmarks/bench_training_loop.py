"""Benchmark: one epoch of the tutorial MLP, PyTorch-tutorial loop vs ``utils.fit``.

(a) the loop of PyTorch's "Learn the Basics" / "Optimizing Model Parameters" page, reproduced faithfully:
    torchvision FashionMNIST with ``ToTensor()``, ``DataLoader(batch_size=64)``, its train loop (printing
    the loss every 100 batches) and its test loop (``.item()`` per batch);
(b) ``utils.fit`` on the same data, held as tensors and batched by index slicing, in float32 like (a);
(c) the same with ``amp=True`` (bfloat16 autocast), only where ``utils.bf16_supported(device)``. Its
    arithmetic differs from (a), so it is reported on its own line, not as the comparison;
(d) for reference, the floor: the fewest lines that train on tensors already in memory (one shuffle, then
    slices; no metrics, no logging) and count correct test predictions. ``fit`` should be close to it.

All train the same MLP for one epoch with SGD (lr 1e-3, batch 64) over the 60,000 training images and
then evaluate the 10,000 test images; the timed region excludes reading the files. Runs alternate
(a, b, c, a, b, c, ...); each is reported as samples/s of its median and of its fastest round (the
fastest is the least disturbed by other work on a shared machine), with the ratios to (a), and the median of the per-round ratios of (b)'s time to (d)'s (issue 24's target: at most
1.10).

    python benchmarks/bench_training_loop.py [--repeats 5] [--device cpu|cuda|mps] [--root DIR]

Uses FashionMNIST from the data folder when it is there, else writes a full-size random stand-in in
FashionMNIST's file format to a temporary folder (the speed does not depend on the pixels).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import ToTensor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402
from utils import data as D  # noqa: E402


# ----------------------------------------------------------------------------------- (a) the tutorial's loop
class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512), nn.ReLU(),
            nn.Linear(512, 512), nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


def tutorial_train_loop(dataloader, model, loss_fn, optimizer, batch_size, device):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 100 == 0:
            loss, current = loss.item(), batch * batch_size + len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def tutorial_test_loop(dataloader, model, loss_fn, device):
    model.eval()
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")


def tutorial_setup(device: torch.device):
    """The tutorial's model, loss and optimizer (seeded, so every run starts from the same weights)."""
    torch.manual_seed(0)
    model = NeuralNetwork().to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    return model, loss_fn, optimizer


def run_tutorial(root: Path, device: torch.device) -> float:
    training_data = datasets.FashionMNIST(str(root), train=True, download=False, transform=ToTensor())
    test_data = datasets.FashionMNIST(str(root), train=False, download=False, transform=ToTensor())
    train_dataloader = DataLoader(training_data, batch_size=64)
    test_dataloader = DataLoader(test_data, batch_size=64)
    model, loss_fn, optimizer = tutorial_setup(device)

    def work():
        with contextlib.redirect_stdout(io.StringIO()):
            tutorial_train_loop(train_dataloader, model, loss_fn, optimizer, 64, device)
            tutorial_test_loop(test_dataloader, model, loss_fn, device)

    return timed(work, device)


# ----------------------------------------------------------------------------------- (b) utils.fit
def run_fit(splits: D.Splits, device: torch.device, amp: bool = False) -> float:
    train = torch.utils.data.TensorDataset(*[torch.cat(t) for t in zip(splits.train.tensors, splits.val.tensors)])
    train_loader = utils.TensorLoader(train, batch_size=64, shuffle=True, seed=0, device=device)
    test_loader = utils.TensorLoader(splits.test, batch_size=1000, device=device)
    torch.manual_seed(0)
    model = utils.MLP(splits.input_shape, splits.num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    return timed(lambda: utils.fit(model, train_loader, test_loader, epochs=1, optimizer=optimizer, device=device,
                                   restore_best=False, amp=amp), device)


# ----------------------------------------------------------------------------------- (d) the floor
def run_minimal(splits: D.Splits, device: torch.device) -> float:
    x = torch.cat([splits.train.tensors[0], splits.val.tensors[0]]).to(device)
    y = torch.cat([splits.train.tensors[1], splits.val.tensors[1]]).to(device)
    x_test, y_test = (t.to(device) for t in splits.test.tensors)
    model, loss_fn, optimizer = tutorial_setup(device)

    def work():
        order = torch.randperm(len(x), device=device)
        xs, ys = x[order], y[order]
        for i in range(0, len(xs), 64):
            loss = loss_fn(model(xs[i:i + 64]), ys[i:i + 64])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            correct = sum((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum()
                          for i in range(0, len(x_test), 1000))
        return correct.item()

    return timed(work, device)


def timed(work: Callable[[], object], device: torch.device) -> float:
    """Seconds that ``work()`` takes, waiting for the GPU to finish before and after."""
    _sync(device)
    start = time.perf_counter()
    work()
    _sync(device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: auto)")
    parser.add_argument("--root", default=None, help="data folder holding FashionMNIST/raw")
    args = parser.parse_args(argv)
    device = utils.pick_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = D.data_dir(args.root)
        if not D.fashion_mnist_on_disk(root):
            root = Path(tmp)
            D.write_fake_fashion_mnist(root)
            source = "random stand-in in FashionMNIST's format (60,000 + 10,000)"
        else:
            source = f"FashionMNIST from {root}"
        splits = D.load_dataset("fashion_mnist", root=root, download=False, verbose=False)
        samples = sum(len(part) for part in (splits.train, splits.val, splits.test))
        print(f"device: {utils.describe_device(device)} | torch {torch.__version__} | data: {source}")
        runs = {"tutorial": lambda: run_tutorial(root, device), "fit": lambda: run_fit(splits, device)}
        if utils.bf16_supported(device):
            runs["fit amp"] = lambda: run_fit(splits, device, amp=True)
        runs["floor"] = lambda: run_minimal(splits, device)
        times = {name: [] for name in runs}
        for i in range(args.repeats):
            for name, run in runs.items():
                times[name].append(run())
            print(f"  round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    labels = {"tutorial": "(a) tutorial loop", "fit": "(b) utils.fit", "fit amp": "(c) utils.fit, amp=True (bf16)",
              "floor": "(d) minimal tensor loop"}
    median = {k: samples / statistics.median(v) for k, v in times.items()}
    best = {k: samples / min(v) for k, v in times.items()}
    print(f"{'samples/s':32s} {'median':>9s} {'fastest':>9s}   (of {args.repeats} rounds)")
    for name in times:
        line = f"{labels[name]:32s} {median[name]:9,.0f} {best[name]:9,.0f}"
        if name != "tutorial":
            line += (f"   ratio to (a): {median[name] / median['tutorial']:.2f}x median, "
                     f"{best[name] / best['tutorial']:.2f}x fastest")
        print(line)
    # fit against the floor, round by round: both ran back to back in each round, so a slow spell of a shared
    # machine slows both; the median of the per-round ratios is steadier than a ratio of medians
    paired = statistics.median(f / m for f, m in zip(times["fit"], times["floor"]))
    print(f"fit / floor: {paired:.2f}x the time, median of {args.repeats} per-round ratios of (b) to (d) "
          f"(target: at most 1.10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

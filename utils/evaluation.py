"""A closer look at a final model: its predictions, the confusion matrix and the accuracy of every class.

Explained in notebooks/06_putting_it_all_together.ipynb, where the model chosen by validation meets the
test set once. A confusion matrix counts, for every true class (row) and predicted class (column), how
many samples landed there: the diagonal holds the correct answers, everything off it is a mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from .device import autocast_bf16, to_device


def predict(model: nn.Module, loader: Iterable, device: torch.device | str | None = None, *,
            amp: bool = False, return_logits: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The predicted class and the true label of every sample of ``loader``, in order, on the CPU.

    With ``return_logits=True`` the model's raw outputs (float32, one row per sample) come back instead of
    the predicted classes, so that a loss can be computed from the same single pass. Runs in eval mode
    without tracking gradients, then puts the model back in the mode it was in. ``device`` defaults to the
    device of the model's parameters; ``amp`` uses bfloat16 autocast (see ``bf16_supported``).
    """
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    was_training = model.training
    model.eval()
    predictions, targets = [], []
    try:
        with torch.no_grad():
            for x, y in loader:
                x = to_device(x, device)
                with autocast_bf16(device, amp):
                    logits = model(x)
                predictions.append(logits.float().cpu() if return_logits else logits.argmax(dim=1).cpu())
                targets.append(y.cpu())
    finally:
        model.train(was_training)
    if not predictions:
        raise ValueError("loader yielded no batches: nothing to predict")
    return torch.cat(predictions), torch.cat(targets).long()


def confusion_matrix(targets: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``num_classes x num_classes`` counts: row = true class, column = predicted class (as scikit-learn)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    targets, predictions = torch.as_tensor(targets), torch.as_tensor(predictions)
    if targets.ndim != 1 or targets.shape != predictions.shape:
        raise ValueError(f"targets and predictions must be 1-D and of the same length, got shapes "
                         f"{tuple(targets.shape)} and {tuple(predictions.shape)}")
    for name, values in (("targets", targets), ("predictions", predictions)):
        if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
            raise ValueError(f"{name} must hold integer class indices, got dtype {values.dtype}")
        if len(values) and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must lie in 0 .. {num_classes - 1} (num_classes={num_classes}), "
                             f"got values from {values.min().item()} to {values.max().item()}")
    flat = targets.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _check_confusion(confusion: torch.Tensor) -> torch.Tensor:
    confusion = torch.as_tensor(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion must be a square matrix (classes x classes), got shape {tuple(confusion.shape)}")
    if (confusion < 0).any():
        raise ValueError("confusion must hold counts (no negative entries)")
    return confusion


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """For every true class, the fraction of its samples predicted correctly: diagonal / row sums.

    (This is the *recall* of each class. Dividing by the column sums instead would give the *precision*:
    of the samples predicted as a class, the fraction that really belong to it.) A class without samples
    gets NaN.
    """
    confusion = _check_confusion(confusion).double()
    return confusion.diagonal() / confusion.sum(dim=1)


def most_confused(confusion: torch.Tensor, classes: Sequence[str], k: int = 3) -> list[tuple[str, str, int]]:
    """The ``k`` largest off-diagonal counts as ``(true class, predicted class, count)``, largest first."""
    confusion = _check_confusion(confusion)
    if len(classes) != confusion.shape[0]:
        raise ValueError(f"classes has {len(classes)} names but confusion is {confusion.shape[0]} x {confusion.shape[0]}")
    off = confusion.clone()
    off.fill_diagonal_(0)
    values, flat = off.flatten().sort(descending=True, stable=True)
    n = confusion.shape[0]
    return [(classes[i // n], classes[i % n], int(v)) for v, i in zip(values.tolist()[:k], flat.tolist()[:k]) if v > 0]


def per_class_table(confusion: torch.Tensor, classes: Sequence[str]) -> str:
    """A text table: every class, its number of samples, its accuracy and what it is most often taken for."""
    confusion = _check_confusion(confusion)
    if len(classes) != confusion.shape[0]:
        raise ValueError(f"classes has {len(classes)} names but confusion is {confusion.shape[0]} x {confusion.shape[0]}")
    accuracy = per_class_accuracy(confusion)
    width = max(len("class"), *(len(c) for c in classes))
    lines = [f"{'class':<{width}}  samples  accuracy  most often mistaken for"]
    for i, name in enumerate(classes):
        row = confusion[i].clone()
        row[i] = 0
        mistaken = f"{classes[int(row.argmax())]} ({int(row.max())})" if row.max() > 0 else "-"
        lines.append(f"{name:<{width}}  {int(confusion[i].sum()):7d}  {accuracy[i].item():8.1%}  {mistaken}")
    return "\n".join(lines)


def plot_confusion_matrix(confusion: torch.Tensor, classes: Sequence[str], *, normalize: bool = True,
                          title: str = "confusion matrix") -> Figure:
    """The matrix as a picture: rows true class, columns predicted; with ``normalize`` each row sums to 1,
    so the diagonal reads as per-class accuracy. Every cell is annotated."""
    confusion = _check_confusion(confusion)
    if len(classes) != confusion.shape[0]:
        raise ValueError(f"classes has {len(classes)} names but confusion is {confusion.shape[0]} x {confusion.shape[0]}")
    values = confusion.double().numpy()
    if normalize:
        rows = values.sum(axis=1, keepdims=True)
        values = np.divide(values, rows, out=np.zeros_like(values), where=rows > 0)
    n = len(classes)
    size = max(4.0, 0.5 * n + 2)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class" if normalize else "samples")
    threshold = values.max() / 2 if values.size else 0
    for i in range(n):
        for j in range(n):
            text = f"{values[i, j]:.2f}" if normalize else f"{int(values[i, j])}"
            if normalize and values[i, j] < 0.005:
                text = ""
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if values[i, j] > threshold else "black")
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return fig

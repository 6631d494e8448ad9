"""A closer look at a final model: its predictions, the confusion matrix and the accuracy of every class.

Explained in notebooks/06_putting_it_all_together.ipynb, where the model chosen by validation meets the
test set once. A confusion matrix counts, for every true class (row) and predicted class (column), how
many samples landed there: the diagonal holds the correct answers, everything off it is a mistake.

``confusion_matrix`` is written out (a ``bincount`` of ``true * C + predicted``) because it is short and
teaches the layout; the table and the picture are scikit-learn's own ``classification_report`` and
``ConfusionMatrixDisplay``, fed with that matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from .checks import positive_int
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
    num_classes = positive_int(num_classes, "num_classes")
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


def _check_classes(confusion: torch.Tensor, classes: Sequence[str]) -> torch.Tensor:
    if len(classes) != confusion.shape[0]:
        raise ValueError(f"classes has {len(classes)} names but confusion is {confusion.shape[0]} x {confusion.shape[0]}")
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
    confusion = _check_classes(_check_confusion(confusion), classes)
    k = positive_int(k, "k")
    off = confusion.clone()
    off.fill_diagonal_(0)
    values, flat = off.flatten().sort(descending=True, stable=True)
    n = confusion.shape[0]
    return [(classes[i // n], classes[i % n], int(v)) for v, i in zip(values.tolist()[:k], flat.tolist()[:k]) if v > 0]


def _expand(confusion: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The (true, predicted) label pairs that ``confusion`` counts, one per sample (what scikit-learn reads)."""
    counts = confusion.long().numpy()
    true, predicted = np.nonzero(counts)
    repeats = counts[true, predicted]
    return np.repeat(true, repeats), np.repeat(predicted, repeats)


def per_class_table(confusion: torch.Tensor, classes: Sequence[str], *, digits: int = 3) -> str:
    """scikit-learn's ``classification_report`` for the samples that ``confusion`` counts.

    One row per class: precision, recall (the per-class accuracy of ``per_class_accuracy``), F1 and support
    (the number of samples of the class), then the overall accuracy and the plain and support-weighted means.
    A class the model never predicts gets precision 0 instead of a warning.
    """
    from sklearn.metrics import classification_report

    confusion = _check_classes(_check_confusion(confusion), classes)
    true, predicted = _expand(confusion)
    return classification_report(true, predicted, labels=list(range(len(classes))), target_names=list(classes),
                                 digits=positive_int(digits, "digits"), zero_division=0)


def plot_confusion_matrix(confusion: torch.Tensor, classes: Sequence[str], *, normalize: bool = True,
                          title: str = "confusion matrix") -> Figure:
    """The matrix as a picture, drawn by scikit-learn's ``ConfusionMatrixDisplay``: rows true class, columns
    predicted, every cell annotated. With ``normalize`` each row is divided by its total (as
    ``normalize="true"`` does in scikit-learn), so the diagonal reads as per-class accuracy."""
    from sklearn.metrics import ConfusionMatrixDisplay

    confusion = _check_classes(_check_confusion(confusion), classes)
    values = confusion.double().numpy()
    if normalize:
        rows = values.sum(axis=1, keepdims=True)
        values = np.divide(values, rows, out=np.zeros_like(values), where=rows > 0)
    else:
        values = values.astype(np.int64)
    size = max(4.0, 0.5 * len(classes) + 2)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.subplots()
    display = ConfusionMatrixDisplay(values, display_labels=list(classes))
    display.plot(ax=ax, cmap="Blues", values_format=".2f" if normalize else "d", xticks_rotation=45, colorbar=True)
    if normalize:
        display.im_.set_clim(0, 1)
    display.im_.colorbar.set_label("fraction of the true class" if normalize else "samples")
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return fig

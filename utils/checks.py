"""Argument checks shared by every module of ``utils``: one helper per kind of check, one message style.

Each message names the argument, says what is allowed and shows what was given, e.g.
``batch_size must be an integer >= 1 (1, 2, ...), got 0``. NumPy integers and floats are accepted where a
Python ``int`` or ``float`` is (``np.int64(4)`` is a fine batch size); ``bool`` is refused (``True`` is not 1 epoch).
Used across the series; explained where each argument is first met (notebooks 01, 05, 06).
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def integer(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as a Python ``int`` if it is an integer >= ``minimum``; otherwise a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        examples = ", ".join(str(minimum + i) for i in range(2))
        raise ValueError(f"{name} must be an integer >= {minimum} ({examples}, ...), got {value!r}")
    return int(value)


def positive_int(value: Any, name: str) -> int:
    """``value`` as an ``int`` >= 1, or a ``ValueError`` naming ``name``."""
    return integer(value, name, minimum=1)


def finite_number(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                  low_open: bool = False, high_open: bool = False, example: str = "") -> float:
    """``value`` as a ``float`` if it is a finite real number in the given range; otherwise a ``ValueError``.

    ``low_open=True`` excludes ``low`` itself (``lr`` must be > 0, not >= 0).
    """
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(float(value))
    if ok:
        number = float(value)
        if low is not None and (number < low or (low_open and number == low)):
            ok = False
        if high is not None and (number > high or (high_open and number == high)):
            ok = False
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        rule = "a finite number" + (" " + " and ".join(bounds) if bounds else "")
        hint = f" (e.g. {example})" if example else ""
        raise ValueError(f"{name} must be {rule}{hint}, got {value!r}")
    return number


def one_of(value: Any, name: str, allowed) -> Any:
    """``value`` if it is one of ``allowed``; otherwise a ``ValueError`` listing what is allowed."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
    return value


def mean_loss(loss_fn: Any) -> Any:
    """``loss_fn`` (None stays None) if it is callable and averages over the batch; otherwise a ``ValueError``.

    ``fit`` weights each batch's loss by its size: a summed loss (``reduction="sum"``, also through
    ``functools.partial``) would put training and validation on different scales.
    """
    if loss_fn is None:
        return None
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be a loss module or function such as nn.CrossEntropyLoss(), got {loss_fn!r}")
    reduction = getattr(loss_fn, "reduction", None) or getattr(loss_fn, "keywords", {}).get("reduction", "mean")
    if reduction != "mean":
        raise ValueError(f"loss_fn has reduction={reduction!r}; fit needs the batch mean (reduction='mean')")
    return loss_fn


def hooks_list(log: Any) -> list:
    """``log`` (a hook ``hook(name, value, step)``, a list of them, or None) as a list; else a ``ValueError``."""
    if log is None:
        return []
    hooks = [log] if callable(log) else list(log) if isinstance(log, (list, tuple)) else None
    if hooks is None or not all(callable(hook) for hook in hooks):
        raise ValueError(f"log must be a callable hook(name, value, step), a list of them, or None; got {log!r}")
    return hooks


def check_scheduler(scheduler: Any, optimizer: Any, interval: str) -> None:
    """``fit``'s ``scheduler``: None, or a torch scheduler built on ``optimizer`` that ``interval`` can drive."""
    if scheduler is None:
        return
    if not callable(getattr(scheduler, "step", None)):
        raise ValueError(f"scheduler must be a torch.optim.lr_scheduler object built on the optimizer, e.g. "
                         f"CosineAnnealingLR(optimizer, T_max=epochs), got {scheduler!r}")
    if getattr(scheduler, "optimizer", optimizer) is not optimizer:
        raise ValueError("scheduler was built on another optimizer than the one fit trains with: build it "
                         "on this optimizer, e.g. StepLR(optimizer, step_size=1)")
    if interval == "step" and type(scheduler).__name__ == "ReduceLROnPlateau":
        raise ValueError("scheduler ReduceLROnPlateau needs the epoch's validation loss: use "
                         "scheduler_interval='epoch' with it, not 'step'")


def check_loader(loader: Any, name: str) -> bool:
    """``fit``'s loaders: something that yields batches ``(inputs, labels)``, with at least one batch."""
    if isinstance(loader, (str, bytes)) or not hasattr(loader, "__iter__") or type(loader).__name__.endswith("Dataset"):
        raise ValueError(f"{name} must be a loader that yields batches (inputs, labels), e.g. "
                         f"DataLoader(dataset, batch_size=64) or utils.TensorLoader(dataset, 64); got {type(loader).__name__}")
    if hasattr(loader, "__len__") and len(loader) == 0:
        raise ValueError(f"{name} is empty (0 batches): fit needs at least one sample")
    return True


def inputs_and_labels(batch: Any) -> tuple[Any, Any]:
    """A loader's batch as ``(inputs, labels)``: what ``fit``'s loops (notebook 01's ``for x, y in loader``) need.

    A ``(inputs, labels, ...)`` tuple or list gives its first two entries; anything else (a batch of inputs
    alone, a dict, a tuple of one) and a batch of 0 samples get a ``TypeError``/``ValueError`` naming the loader.
    """
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        shape = (f"a dict with keys {sorted(map(str, batch))}" if isinstance(batch, dict)
                 else f"a {type(batch).__name__}" + (f" of {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
        raise TypeError(f"loader: each batch must be (inputs, labels), as a TensorDataset or a torchvision "
                        f"dataset gives; got {shape}. Wrap a dataset without labels or with dict samples so "
                        f"that it returns (inputs, labels).")
    x, y = batch[0], batch[1]
    if hasattr(y, "__len__") and len(y) == 0:
        raise ValueError("loader gave a batch of 0 samples: there is nothing to learn from it. Check the "
                         "dataset's length and the sampler.")
    return x, y

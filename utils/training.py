"""The training loop: ``train_one_epoch``, ``evaluate`` and ``fit``, which returns a ``History``.

Explained in notebooks/01_optimization_loops.ipynb (the loop written by hand, then packaged here) and
notebooks/06_putting_it_all_together.ipynb (every option of ``fit``). Read it after notebook 01: it is
the same loop, plus bookkeeping.

Speed notes: the loop never waits for the device inside a batch. Loss and accuracy are summed as tensors
on the device and read back (``.item()`` / ``.tolist()``) once per ``log_every`` steps and once per epoch.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .device import autocast_bf16, bf16_supported, pick_device, to_device

LogHook = Callable[[str, float, int], None]
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
MONITORS = {"val_loss": "min", "val_acc": "max", "train_loss": "min", "train_acc": "max"}


# ----------------------------------------------------------------------------------------------- checks
def check_lr(lr: float, argument: str = "lr") -> None:
    """Raise a ``ValueError`` naming ``argument`` unless ``lr`` is a finite number > 0."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"{argument} must be a finite number > 0 (e.g. 0.1 or 1e-3), got {lr!r}")


def check_epochs(epochs: int) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")


def make_optimizer(name: str, params: Iterable, lr: float, *, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """A ``torch.optim`` optimizer by name: sgd, momentum (SGD + momentum), nesterov, rmsprop, adam, adamw.

    Explained in notebooks/04_optimizers.ipynb.
    """
    check_lr(lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay or 0.01)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


# ----------------------------------------------------------------------------------------------- the building blocks
@dataclass
class EpochResult:
    """Loss and accuracy of one pass over a loader, both averaged over samples."""

    loss: float
    accuracy: float
    samples: int


def train_one_epoch(model: nn.Module, loader: Iterable, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                    device: torch.device, *, on_step: Callable[[torch.Tensor], bool] | None = None,
                    amp: bool = False) -> EpochResult:
    """One pass over ``loader`` updating the parameters: forward, loss, zero_grad, backward, step.

    ``on_step(loss)`` is called after every step with the detached loss tensor (still on the device);
    returning True stops the epoch early (``fit`` uses this to stop a diverging run).
    """
    model.train()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for x, y in loader:
        x, y = to_device(x, device), to_device(y, device)
        with autocast_bf16(device, amp):
            logits = model(x)
            loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        # .detach(): keep the number, not the graph that produced it
        total_loss += loss.detach().float() * len(y)
        correct += (logits.argmax(dim=1) == y).sum()
        seen += len(y)
        if on_step is not None and on_step(loss.detach()):
            break
    seen = max(seen, 1)
    return EpochResult(loss=total_loss.item() / seen, accuracy=correct.item() / seen, samples=seen)


def evaluate(model: nn.Module, loader: Iterable, loss_fn: nn.Module, device: torch.device, *,
             amp: bool = False) -> EpochResult:
    """Loss and accuracy of ``model`` on ``loader`` without updating anything.

    The model is put in eval mode (dropout off, batch-norm statistics frozen) and gradients are not
    tracked; afterwards the model is put back in the mode it was in.
    """
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    try:
        with torch.no_grad():
            for x, y in loader:
                x, y = to_device(x, device), to_device(y, device)
                with autocast_bf16(device, amp):
                    logits = model(x)
                    loss = loss_fn(logits, y)
                total_loss += loss.float() * len(y)
                correct += (logits.argmax(dim=1) == y).sum()
                seen += len(y)
    finally:
        model.train(was_training)
    seen = max(seen, 1)
    return EpochResult(loss=total_loss.item() / seen, accuracy=correct.item() / seen, samples=seen)


# ----------------------------------------------------------------------------------------------- history
@dataclass
class History:
    """What ``fit`` recorded.

    ``step_loss``: the training loss of every optimizer step. ``epochs``: one dict per epoch with
    ``epoch``, ``step`` (optimizer steps so far), ``lr``, ``train_loss``, ``train_acc``, ``val_loss``,
    ``val_acc`` and ``time`` (seconds since the start). ``diverged``/``message`` tell whether and why a
    run stopped early.
    """

    step_loss: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    monitor: str = "val_loss"
    best_epoch: int | None = None
    best_value: float | None = None
    restored_best: bool = False
    diverged: bool = False
    message: str | None = None
    elapsed: float = 0.0
    device: str = "cpu"
    label: str = ""

    def metric(self, name: str) -> list[float]:
        """Per-epoch values of ``name``, e.g. ``history.metric("val_acc")``."""
        return [e[name] for e in self.epochs if e.get(name) is not None]

    @property
    def train_loss(self) -> list[float]:
        return self.metric("train_loss")

    @property
    def val_loss(self) -> list[float]:
        return self.metric("val_loss")

    @property
    def train_acc(self) -> list[float]:
        return self.metric("train_acc")

    @property
    def val_acc(self) -> list[float]:
        return self.metric("val_acc")

    @property
    def lr(self) -> list[float]:
        return self.metric("lr")

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if not self.epochs:
            return self.message or "no epoch completed"
        last = self.epochs[-1]
        parts = [f"{len(self.epochs)} epoch(s) in {self.elapsed:.1f}s on {self.device}",
                 f"train loss {last['train_loss']:.4f}"]
        if last.get("val_loss") is not None:
            parts.append(f"val loss {last['val_loss']:.4f}, val acc {last['val_acc']:.1%}")
        if self.best_epoch is not None:
            parts.append(f"best {self.monitor} {self.best_value:.4f} at epoch {self.best_epoch}"
                         + (" (restored)" if self.restored_best else ""))
        text = "; ".join(parts)
        return f"{text}\n{self.message}" if self.message else text


# ----------------------------------------------------------------------------------------------- checkpoints
@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file next to ``path`` for writing; on success rename it over ``path``.

    Readers see the old file or the new one, never half of one; on an error the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **metadata) -> Path:
    """Save ``model``'s weights (and plain metadata: numbers, strings) atomically.

    Written to a temporary file in the same folder, then renamed over ``path``: a crash mid-write never
    leaves a half-written checkpoint. Load it back with ``load_checkpoint`` (``weights_only=True``).
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_write(path, "wb") as f:
        torch.save({"model": state, **metadata}, f)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None, map_location="cpu") -> dict:
    """Load a checkpoint written by ``save_checkpoint`` with ``torch.load(weights_only=True)`` (no
    arbitrary code runs); when ``model`` is given its weights are replaced. Returns the whole dict."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if model is not None:
        model.load_state_dict(checkpoint["model"])
    return checkpoint


# ----------------------------------------------------------------------------------------------- fit
def _as_hooks(log: LogHook | Iterable[LogHook] | None) -> list[LogHook]:
    if log is None:
        return []
    if callable(log):
        return [log]
    return list(log)


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    *,
    epochs: int = 1,
    optimizer: torch.optim.Optimizer | str = "sgd",
    lr: float | None = None,
    loss_fn: nn.Module | None = None,
    scheduler=None,
    scheduler_interval: str = "epoch",
    device: torch.device | str | None = None,
    log: LogHook | Iterable[LogHook] | None = None,
    log_every: int = 20,
    progress: bool = True,
    monitor: str = "val_loss",
    restore_best: bool = True,
    checkpoint: str | os.PathLike | None = None,
    amp: bool = False,
    diverge_factor: float | None = None,
    label: str = "",
) -> History:
    """Train ``model`` for ``epochs`` epochs; each epoch a training phase and a validation phase.

    - ``optimizer``: a ``torch.optim`` optimizer, or a name (see ``make_optimizer``) together with ``lr``.
    - ``loss_fn``: defaults to ``nn.CrossEntropyLoss()`` (the model outputs logits).
    - ``scheduler``: a ``torch.optim.lr_scheduler`` object, stepped once per epoch (or once per
      optimizer step with ``scheduler_interval="step"``); ``ReduceLROnPlateau`` gets the monitored value.
    - ``log(name, value, step)``: called with ``train/batch_loss`` for every step (delivered in groups of
      ``log_every``), and ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``, ``lr``, then ``epoch``
      (the epoch number) at the end of every epoch.
      A ``LivePlot``'s ``log`` method, TensorBoard's ``SummaryWriter.add_scalar`` or ``print`` all fit.
    - The weights with the best ``monitor`` value (``val_loss``, ``val_acc``; ``train_*`` when there is
      no validation loader) are kept, restored at the end when ``restore_best``, and saved to
      ``checkpoint`` when a path is given.
    - A non-finite loss stops the run: the History says where and what to try, no exception is raised.
      With ``diverge_factor`` (e.g. 4.0) a step loss above that many times the first step's loss stops
      it too: a too-large learning rate often sends the loss to thousands without reaching ``inf``.
    - ``amp=True`` runs forward passes in bfloat16 autocast where the device computes in bfloat16 natively
      (``bf16_supported``: recent CUDA GPUs and CPUs); elsewhere it is ignored with a warning.
    """
    check_epochs(epochs)
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every!r}")
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {', '.join(MONITORS)}, got {monitor!r}")
    if val_loader is None and monitor.startswith("val_"):
        monitor = monitor.replace("val_", "train_")
    if diverge_factor is not None and (isinstance(diverge_factor, bool) or not isinstance(diverge_factor, (int, float))
                                       or not diverge_factor > 1):
        raise ValueError(f"diverge_factor must be None or a number > 1, got {diverge_factor!r}")
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
    device = pick_device(device)
    model.to(device)
    if isinstance(optimizer, str):
        if lr is None:
            raise ValueError(f"lr is required when optimizer is given by name ({optimizer!r}), e.g. lr=0.1")
        optimizer = make_optimizer(optimizer, model.parameters(), lr)
    elif lr is not None:
        raise ValueError("give lr either to the optimizer you built or to fit(optimizer='name', lr=...), not both")
    for i, group in enumerate(optimizer.param_groups):
        check_lr(group["lr"], f"lr (optimizer param group {i})")
    if amp and not bf16_supported(device):
        warnings.warn(f"amp=True needs a device that computes in bfloat16 natively (see utils.bf16_supported); "
                      f"training in float32 on {device}", stacklevel=2)
        amp = False
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    hooks = _as_hooks(log)
    mode = MONITORS[monitor]

    history = History(monitor=monitor, device=str(device), label=label)
    start = time.perf_counter()
    step = 0
    pending: list[torch.Tensor] = []  # losses of steps not yet read back from the device
    best_state = None

    def emit(name: str, value: float, at: int) -> None:
        for hook in hooks:
            hook(name, value, at)

    def flush() -> bool:
        """Read the pending step losses in one transfer; True if one of them is not finite."""
        if not pending:
            return False
        values = torch.stack(pending).float().tolist()
        first_step = step - len(values) + 1
        pending.clear()
        for i, value in enumerate(values):
            history.step_loss.append(value)
            emit("train/batch_loss", value, first_step + i)
            if not math.isfinite(value) or (diverge_factor is not None and value > diverge_factor * history.step_loss[0]):
                stop_diverged(first_step + i, value)
                return True
        bar.update(len(values))
        bar.set_postfix(loss=f"{values[-1]:.4f}", refresh=False)
        return False

    def stop_diverged(at_step: int, value: float) -> None:
        lr_now = optimizer.param_groups[0]["lr"]
        history.diverged = True
        if math.isfinite(value) and history.step_loss:
            what = (f"the loss reached {value:.3g}, more than {diverge_factor:g}x its first value "
                    f"{history.step_loss[0]:.3g}")
        else:
            what = f"the loss became {value}"
        history.message = (
            f"Training diverged at step {at_step} (epoch {epoch}) with lr {lr_now:g}: {what}. "
            f"Try a learning rate about 10x smaller (e.g. {lr_now / 10:g}), or clip gradients."
        )

    def on_step(loss: torch.Tensor) -> bool:
        nonlocal step
        step += 1
        pending.append(loss)
        if scheduler is not None and scheduler_interval == "step":
            scheduler.step()
        return len(pending) >= log_every and flush()

    from tqdm.auto import tqdm

    total_steps = epochs * len(train_loader) if hasattr(train_loader, "__len__") else None
    bar = tqdm(total=total_steps, disable=not progress, desc=label or "fit", unit="step", leave=False)
    try:
        for epoch in range(1, epochs + 1):
            lr_now = optimizer.param_groups[0]["lr"]
            train = train_one_epoch(model, train_loader, loss_fn, optimizer, device, on_step=on_step, amp=amp)
            if history.diverged or flush():
                break
            record = {"epoch": epoch, "step": step, "lr": lr_now, "train_loss": train.loss, "train_acc": train.accuracy,
                      "val_loss": None, "val_acc": None}
            if val_loader is not None:
                val = evaluate(model, val_loader, loss_fn, device, amp=amp)
                record["val_loss"], record["val_acc"] = val.loss, val.accuracy
            record["time"] = time.perf_counter() - start
            history.epochs.append(record)
            for key, name in (("train_loss", "train/loss"), ("train_acc", "train/acc"), ("val_loss", "val/loss"),
                              ("val_acc", "val/acc"), ("lr", "lr")):
                if record[key] is not None:
                    emit(name, record[key], step)
            emit("epoch", epoch, step)  # last event of an epoch: a live plot redraws here
            value = record[monitor]
            if not math.isfinite(value):
                stop_diverged(step, value)
                break
            if history.best_value is None or (value < history.best_value if mode == "min" else value > history.best_value):
                history.best_epoch, history.best_value = epoch, value
                if restore_best:
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if checkpoint is not None:
                    save_checkpoint(checkpoint, model, epoch=epoch, monitor=monitor, value=value)
            if scheduler is not None and scheduler_interval == "epoch":
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(value)
                else:
                    scheduler.step()
    finally:
        bar.close()
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
        history.restored_best = True
    if history.diverged and history.best_epoch is None:
        history.message += " No epoch finished, so the model's weights are the diverged ones."
    history.elapsed = time.perf_counter() - start
    return history

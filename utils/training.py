"""The training loop: ``train_one_epoch``, ``evaluate`` and ``fit``, which returns a ``History``.

Explained in notebooks/01_optimization_loops.ipynb (the loop written by hand, then packaged here) and
notebooks/06_putting_it_all_together.ipynb (every option of ``fit``). Read it after notebook 01: ``fit``'s
loop is the same loop (train phase, validation phase, record, keep the best, schedule); the bookkeeping
lives in small named pieces below it: ``StepRecorder`` (step losses read back in groups, logged, checked),
``DivergenceGuard`` (when a run must stop, in words), ``BestKeeper`` (the best weights) and
``CheckpointSaver`` (the best weights on disk, never at the cost of the run).

Speed notes: the loop never waits for the device inside a batch. Loss and accuracy are summed as tensors
on the device and read back (``.item()`` / ``.tolist()``) once per ``log_every`` steps and once per epoch.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .checkpoints import atomic_write, check_writable, load_checkpoint, save_checkpoint  # noqa: F401  (re-exported)
from .checks import finite_number, one_of, positive_int
from .device import autocast_bf16, bf16_supported, pick_device, to_device
from .events import EPOCH, EPOCH_EVENTS, TRAIN_BATCH_LOSS
from .resume import ResumePoint

#: a log hook: ``hook(name, value, step)``, called with the event names of ``utils.events``:
#: ``TRAIN_BATCH_LOSS`` for every step (delivered in groups of ``log_every``), then at the end of every epoch
#: ``TRAIN_LOSS``, ``TRAIN_ACC``, ``VAL_LOSS``, ``VAL_ACC`` (with validation data), ``LR`` and last ``EPOCH``.
LogHook = Callable[[str, float, int], None]
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
MONITORS = {"val_loss": "min", "val_acc": "max", "train_loss": "min", "train_acc": "max"}
#: the largest learning rate a float32 parameter update can use (torch's own limit, about 3.4e38)
MAX_LR = float(torch.finfo(torch.float32).max)
#: with ``diverge_factor=None``, an epoch whose training loss is above this many times the first step's stops the run
EPOCH_DIVERGE_FACTOR = 1000.0
ON_INTERRUPT = ("auto", "return", "raise")


# ----------------------------------------------------------------------------------------------- checks
def check_lr(lr: float, argument: str = "lr") -> float:
    """Raise a ``ValueError`` naming ``argument`` unless ``lr`` is a finite number > 0 (and at most ``MAX_LR``)."""
    return finite_number(lr, argument, low=0, low_open=True, high=MAX_LR, example="0.1 or 1e-3")


def check_epochs(epochs: int) -> int:
    return positive_int(epochs, "epochs")


def check_optimizer_matches(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Raise a ``ValueError`` when none of ``optimizer``'s parameters belongs to ``model``.

    An optimizer built on another model's parameters (``torch.optim.SGD(other.parameters())``) computes
    nothing wrong that torch could notice: ``model``'s gradients are computed but never applied, and the
    run "trains" for nothing. Used by ``fit`` and ``lr_find``.
    """
    own = {id(p) for p in model.parameters()}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if params and not any(id(p) in own for p in params):
        raise ValueError(f"optimizer holds {len(params)} parameter tensor(s), none of which belongs to model "
                         f"({type(model).__name__}): it was built on another model's parameters. Build it "
                         f"from this model, e.g. torch.optim.SGD(model.parameters(), lr=0.1)")


def make_optimizer(name: str, params: Iterable, lr: float, *, momentum: float = 0.9,
                   weight_decay: float | None = None) -> torch.optim.Optimizer:
    """A ``torch.optim`` optimizer by name: sgd, momentum (SGD + momentum), nesterov, rmsprop, adam, adamw.

    ``weight_decay`` defaults to 0, except for adamw, whose decoupled decay defaults to 0.01 (torch's
    default); an explicit ``weight_decay=0.0`` is respected for every optimizer. Explained in
    notebooks/04_optimizers.ipynb.
    """
    check_lr(lr)
    decay = weight_decay if weight_decay is not None else (0.01 if name == "adamw" else 0.0)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=decay)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True, weight_decay=decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


# ----------------------------------------------------------------------------------------------- the building blocks
@dataclass
class EpochResult:
    """Loss and accuracy of one pass over a loader, both averaged over samples."""

    loss: float
    accuracy: float
    samples: int


def _no_batches(loader: Iterable) -> ValueError:
    return ValueError(f"loader gave no batches (a {type(loader).__name__} with 0 samples, or an iterator already "
                      "used up): there is nothing to average. Give a loader over a non-empty dataset.")


def train_one_epoch(model: nn.Module, loader: Iterable, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                    device: torch.device, *, on_step: Callable[[torch.Tensor], bool] | None = None,
                    amp: bool = False, scheduler=None) -> EpochResult:
    """One pass over ``loader`` updating the parameters: forward, loss, zero_grad, backward, step.

    ``scheduler`` (optional) is a per-step learning-rate scheduler, stepped after every optimizer step.
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
        if scheduler is not None:
            scheduler.step()
        # .detach(): keep the number, not the graph that produced it
        total_loss += loss.detach().float() * len(y)
        correct += (logits.argmax(dim=1) == y).sum()
        seen += len(y)
        if on_step is not None and on_step(loss.detach()):
            break
    if seen == 0:
        raise _no_batches(loader)
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
    if seen == 0:
        raise _no_batches(loader)
    return EpochResult(loss=total_loss.item() / seen, accuracy=correct.item() / seen, samples=seen)


# ----------------------------------------------------------------------------------------------- history


class StopTraining(Exception):
    """Raise it from a ``log`` hook to end a run early and cleanly, e.g. a tuner pruning a bad trial (notebook 05b).

    ``fit`` stops right there, records ``stop_reason="stopped"`` with the exception's text as ``message``, restores
    the best weights as at a normal end and returns the History. An epoch whose ``val/loss`` event raised it is in
    the History, but is not considered for the best weights.
    """


@dataclass
class History:
    """What ``fit`` recorded.

    ``step_loss``: the training loss of every optimizer step. ``epochs``: one dict per epoch with
    ``epoch``, ``step`` (optimizer steps so far), ``lr``, ``train_loss``, ``train_acc``, ``val_loss``,
    ``val_acc`` and ``time`` (seconds since the start). ``stop_reason`` says why a run ended early
    (``"diverged"``, ``"negative_loss"``, ``"negative_lr"``, ``"interrupted"``, ``"stopped"`` by a hook raising
    ``StopTraining``; None when it ran all its
    epochs) and ``message`` says it in words; ``diverged`` and ``interrupted`` are the two common cases as
    flags. ``notes``: things worth knowing that did not stop the run (a checkpoint that could not be written).
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
    interrupted: bool = False
    stop_reason: str | None = None
    notes: list[str] = field(default_factory=list)

    def stop(self, reason: str, message: str) -> None:
        """Record why the run ends early."""
        self.stop_reason, self.message = reason, message
        self.diverged = reason == "diverged"
        self.interrupted = reason == "interrupted"

    def metric(self, name: str) -> list[float]:
        """Per-epoch values of ``name``, e.g. ``history.metric("val_acc")``."""
        return [e[name] for e in self.epochs if e.get(name) is not None]

    train_loss = property(lambda self: self.metric("train_loss"), doc="Per-epoch training loss.")
    val_loss = property(lambda self: self.metric("val_loss"), doc="Per-epoch validation loss.")
    train_acc = property(lambda self: self.metric("train_acc"), doc="Per-epoch training accuracy.")
    val_acc = property(lambda self: self.metric("val_acc"), doc="Per-epoch validation accuracy.")
    lr = property(lambda self: self.metric("lr"), doc="The learning rate each epoch started with.")

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        extra = [m for m in (self.message, *self.notes) if m]
        if not self.epochs:
            return "\n".join(extra) or "no epoch completed"
        last = self.epochs[-1]
        parts = [f"{len(self.epochs)} epoch(s) in {self.elapsed:.1f}s on {self.device}",
                 f"train loss {last['train_loss']:.4f}"]
        if last.get("val_loss") is not None:
            parts.append(f"val loss {last['val_loss']:.4f}, val acc {last['val_acc']:.1%}")
        if self.best_epoch is not None:
            parts.append(f"best {self.monitor} {self.best_value:.4f} at epoch {self.best_epoch}"
                         + (" (restored)" if self.restored_best else ""))
        return "\n".join(["; ".join(parts), *extra])


# ----------------------------------------------------------------------------------------------- fit
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
    on_interrupt: str = "auto",
    resume: str | os.PathLike | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs; each epoch a training phase and a validation phase.

    - ``optimizer``: a ``torch.optim`` optimizer built on ``model``'s parameters, or a name (see
      ``make_optimizer``) together with ``lr``.
    - ``loss_fn``: defaults to ``nn.CrossEntropyLoss()`` (the model outputs logits); it must average over
      the batch (``reduction="mean"``, torch's default).
    - ``scheduler``: a ``torch.optim.lr_scheduler`` object, stepped once per epoch (or once per
      optimizer step with ``scheduler_interval="step"``); ``ReduceLROnPlateau`` gets the monitored value.
      A scheduler that makes the learning rate negative (gradient ascent) stops the run with a message.
    - ``log(name, value, step)``: one hook or a list of them, called with the event names of
      ``utils.events`` (see ``LogHook``). A ``LivePlot``'s ``log`` method, TensorBoard's
      ``SummaryWriter.add_scalar`` or ``print`` all fit.
    - The weights with the best ``monitor`` value (``val_loss``, ``val_acc``; ``train_*`` when there is
      no validation loader) are kept, restored at the end when ``restore_best``, and saved to
      ``checkpoint`` when a path is given. The path is checked before the first step; an existing file
      there is overwritten by this run's best epoch (a note says so); a write that fails during the run
      becomes a note in ``History.notes`` and training goes on.
    - A run stops early, without an exception, when a step loss is not finite; when it exceeds
      ``diverge_factor`` times the first step's loss (e.g. 4.0; a too-large learning rate often sends the
      loss to thousands without reaching ``inf``); with ``diverge_factor=None``, when an epoch's training
      loss exceeds ``EPOCH_DIVERGE_FACTOR`` (1000) times the first step's; when a classification loss
      goes below 0 (``NLLLoss`` given logits). ``History.stop_reason`` and ``message`` say why and what to try.
    - A ``log`` hook that raises ``StopTraining`` ends the run early, cleanly: the History is returned with
      ``stop_reason="stopped"``.
    - Interrupting (Ctrl-C, or the notebook's Stop button) ends training cleanly: the History so far is
      marked ``interrupted``, the partly trained epoch is not recorded, and the best finished epoch's weights
      are restored as at a normal end (when ``restore_best``). ``on_interrupt="return"`` then returns the
      History; ``"raise"`` re-raises the ``KeyboardInterrupt`` with the History attached as
      ``err.history``, so that a script still stops. The default ``"auto"`` returns in a Jupyter notebook
      and raises elsewhere.
    - ``resume``: a file path. After every finished epoch the whole state of the run (weights, optimizer,
      scheduler, random generators and the training loader's shuffle, epoch, History, best epoch) is written
      there (``utils.resume.ResumePoint``); when the file exists at the start, the run continues from it. Build
      the model, optimizer, scheduler and loaders as for the first run: the resumed run then gives the same
      weights and History as one that never stopped.
    - ``amp=True`` runs forward passes in bfloat16 autocast where the device computes in bfloat16 natively
      (``bf16_supported``: recent CUDA GPUs and CPUs); elsewhere it is ignored with a warning.
    """
    epochs, log_every = check_epochs(epochs), positive_int(log_every, "log_every")
    monitor = check_monitor(monitor, val_loader)
    one_of(scheduler_interval, "scheduler_interval", ("epoch", "step"))
    on_interrupt = check_on_interrupt(on_interrupt)
    check_not_empty(train_loader, "train_loader")
    check_not_empty(val_loader, "val_loader")
    device = pick_device(device)
    optimizer = prepare_optimizer(model, optimizer, lr)
    amp = check_amp(amp, device)
    loss_fn, hooks = check_loss_fn(loss_fn), check_hooks(log)
    model.to(device)  # only once every argument is accepted: a refused call leaves the model where it was
    guard = DivergenceGuard(diverge_factor, loss_fn)
    history = History(monitor=monitor, device=str(device), label=label)
    saver = CheckpointSaver(checkpoint, history) if checkpoint is not None else None
    best = BestKeeper(MONITORS[monitor], keep_weights=restore_best)
    step_scheduler = scheduler if scheduler_interval == "step" else None
    bar = progress_bar(progress, epochs, train_loader, label)
    recorder = StepRecorder(history, hooks, guard, optimizer, bar, log_every, watch_lr=step_scheduler is not None)
    resumer = ResumePoint(resume) if resume is not None else None
    first_epoch = 1 + (resume_run(resumer, model, optimizer, scheduler, train_loader, device, history, best, recorder)
                       if resumer is not None and resumer.exists() else 0)
    start, interrupt = time.perf_counter(), None

    try:
        for epoch in range(first_epoch, epochs + 1):
            recorder.epoch, lr_now = epoch, optimizer.param_groups[0]["lr"]
            train = train_one_epoch(model, train_loader, loss_fn, optimizer, device, on_step=recorder, amp=amp,
                                    scheduler=step_scheduler)
            if recorder.flush() or history.stop_reason:
                break
            record = {"epoch": epoch, "step": recorder.steps, "lr": lr_now, "train_loss": train.loss,
                      "train_acc": train.accuracy, "val_loss": None, "val_acc": None}
            if val_loader is not None:
                val = evaluate(model, val_loader, loss_fn, device, amp=amp)
                record["val_loss"], record["val_acc"] = val.loss, val.accuracy
            record["time"] = time.perf_counter() - start
            history.epochs.append(record)
            emit_epoch(hooks, record)
            value = record[monitor]
            if stop := guard.check_epoch(record, value, optimizer):
                history.stop(*stop)
                break
            if best.update(value, model):
                history.best_epoch, history.best_value = epoch, value
                if saver is not None:
                    saver.save(model, epoch=epoch, monitor=monitor, value=value)
            if scheduler is not None and scheduler_interval == "epoch":
                step_epoch_scheduler(scheduler, value)
            if resumer is not None:
                save_resume_point(resumer, model, optimizer, scheduler, train_loader, epoch, history, best, recorder)
            if stop := guard.check_lr(optimizer, epoch, recorder.steps):
                history.stop(*stop)
                break
    except StopTraining as err:  # a hook asked to stop (a pruner): a normal end, only earlier
        history.stop("stopped", str(err) or "A log hook stopped the run (StopTraining).")
    except KeyboardInterrupt as err:
        interrupt = err
        recorder.flush()
        history.stop("interrupted", f"Training was interrupted in epoch {recorder.epoch} (step {recorder.steps}); "
                                    f"the History holds the {len(history.epochs)} finished epoch(s).")
    finally:
        bar.close()
    if restore_best and best.restore(model):
        history.restored_best = True
    if history.stop_reason and history.best_epoch is None:
        history.message += (" No epoch finished, so the model's weights are the diverged ones." if history.diverged
                            else " No epoch finished, so the model keeps its last weights.")
    history.elapsed = time.perf_counter() - start
    if interrupt is not None and on_interrupt == "raise":
        interrupt.history = history
        raise interrupt
    return history


# ----------------------------------------------------------------------------------------------- fit's bookkeeping
class StepRecorder:
    """What ``fit`` does after every optimizer step (it is the ``on_step`` of ``train_one_epoch``).

    Each step's loss stays on the device in ``pending``; every ``log_every`` steps ``flush`` reads them all
    back in one transfer, appends them to ``history.step_loss``, sends them to the hooks as
    ``TRAIN_BATCH_LOSS``, asks the ``DivergenceGuard`` about each and moves the progress bar. Returns
    True (stop the epoch) when the guard says the run must stop; the reason is then in the History.
    """

    def __init__(self, history: History, hooks: list[LogHook], guard: DivergenceGuard,
                 optimizer: torch.optim.Optimizer, bar, log_every: int, watch_lr: bool = False):
        self.history, self.hooks, self.guard, self.optimizer, self.bar = history, hooks, guard, optimizer, bar
        self.log_every, self.watch_lr = log_every, watch_lr
        self.pending: list[torch.Tensor] = []
        self.steps = 0
        self.epoch = 0

    def __call__(self, loss: torch.Tensor) -> bool:
        self.steps += 1
        self.pending.append(loss)
        if self.watch_lr and (stop := self.guard.check_lr(self.optimizer, self.epoch, self.steps)):
            self.flush()
            self.history.stop(*stop)
            return True
        return len(self.pending) >= self.log_every and self.flush()

    def flush(self) -> bool:
        """Read the pending step losses in one transfer; True if the run must stop."""
        if not self.pending:
            return False
        values = torch.stack(self.pending).float().tolist()
        self.pending.clear()
        first_step = self.steps - len(values) + 1
        for step, value in enumerate(values, start=first_step):
            self.history.step_loss.append(value)
            emit(self.hooks, TRAIN_BATCH_LOSS, value, step)
            if stop := self.guard.check_step(value, step, self.epoch, self.optimizer):
                self.history.stop(*stop)
                return True
        self.bar.update(len(values))
        self.bar.set_postfix(loss=f"{values[-1]:.4f}", refresh=False)
        return False


class DivergenceGuard:
    """Decides when the numbers of a run mean it must stop, and says why in words.

    Each check returns None while all is well, or ``(reason, message)`` for ``History.stop``.
    """

    def __init__(self, factor: float | None, loss_fn: Callable):
        if factor is not None:
            try:
                factor = finite_number(factor, "diverge_factor", low=1, low_open=True)
            except ValueError:
                raise ValueError(f"diverge_factor must be None or a number > 1, got {factor!r}") from None
        self.factor = factor
        self.first: float | None = None  # the first step's loss: the scale the others are compared with
        self.never_negative = is_classification_loss(loss_fn)

    def check_step(self, value: float, step: int, epoch: int, optimizer) -> tuple[str, str] | None:
        if self.first is None:
            self.first = value
            if not math.isfinite(value):  # before any update: the data or the weights, not the learning rate
                return "diverged", (
                    f"Training stopped at step 1 (epoch {epoch}): the loss was {value} before any update, so the "
                    "learning rate is not the cause. Look for nan or inf in the inputs or labels (e.g. "
                    "torch.isfinite(x).all()) or in the model's initial weights.")
        if not math.isfinite(value):
            return "diverged", diverged_message(step, epoch, optimizer, f"the loss became {value}")
        if self.factor is not None and value > self.factor * self.first:
            return "diverged", diverged_message(
                step, epoch, optimizer,
                f"the loss reached {value:.3g}, more than {self.factor:g}x its first value {self.first:.3g}")
        if value < 0 and self.never_negative:
            return "negative_loss", (
                f"Training stopped at step {step} (epoch {epoch}): the loss became negative ({value:.3g}), which a "
                "classification loss given log-probabilities never is. The likely cause is NLLLoss given the "
                "model's raw outputs (logits): it then trains towards -inf. Use nn.CrossEntropyLoss() on logits, "
                "or end the model with nn.LogSoftmax(dim=1).")
        return None

    def check_epoch(self, record: dict, value: float, optimizer) -> tuple[str, str] | None:
        if not math.isfinite(value):
            return "diverged", diverged_message(record["step"], record["epoch"], optimizer,
                                                f"the loss became {value}")
        train_loss = record["train_loss"]
        if self.factor is None and self.first is not None and self.first > 0 \
                and train_loss > EPOCH_DIVERGE_FACTOR * self.first:
            return "diverged", diverged_message(
                record["step"], record["epoch"], optimizer,
                f"the epoch's training loss {train_loss:.3g} is more than {EPOCH_DIVERGE_FACTOR:g}x the first "
                f"step's {self.first:.3g} (pass diverge_factor=4 to stop at the first such step)")
        return None

    def check_lr(self, optimizer, epoch: int, step: int) -> tuple[str, str] | None:
        lr_now = optimizer.param_groups[0]["lr"]
        if lr_now < 0:
            return "negative_lr", (
                f"Training stopped at step {step} (epoch {epoch}): the scheduler set the learning rate to "
                f"{lr_now:g}. A negative learning rate climbs the loss (gradient ascent); check the "
                "scheduler's formula (a LambdaLR factor must stay > 0).")
        return None


def diverged_message(step: int, epoch: int, optimizer, what: str) -> str:
    lr_now = optimizer.param_groups[0]["lr"]
    return (f"Training diverged at step {step} (epoch {epoch}) with lr {lr_now:g}: {what}. "
            f"Try a learning rate about 10x smaller (e.g. {lr_now / 10:g}), or clip gradients.")


class BestKeeper:
    """The best value of the monitored number so far and, when ``keep_weights``, a copy of the weights."""

    def __init__(self, mode: str, keep_weights: bool):
        self.mode, self.keep_weights = mode, keep_weights
        self.value: float | None = None
        self.state: dict | None = None

    def update(self, value: float, model: nn.Module) -> bool:
        """True (and the weights copied) if ``value`` is better than every earlier one."""
        better = self.value is None or (value < self.value if self.mode == "min" else value > self.value)
        if better:
            self.value = value
            if self.keep_weights:
                self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return better

    def restore(self, model: nn.Module) -> bool:
        """Load the kept weights back into ``model``; False if there are none."""
        if self.state is None:
            return False
        model.load_state_dict(self.state)
        return True


class CheckpointSaver:
    """Saves the best weights to ``path`` during ``fit``, never at the cost of the run.

    The path is checked when the saver is made (before the first step): a folder, or a place where no file
    can be created, is a ``ValueError`` naming ``checkpoint``. An existing file is overwritten by this
    run's best epoch, and a note in the History says so. A write that still fails later (disk full)
    becomes a note and a warning; training goes on.
    """

    def __init__(self, path: str | os.PathLike, history: History):
        self.path, self.history = Path(path), history
        check_writable(self.path, "checkpoint")
        if self.path.exists():
            self.note(f"checkpoint {self.path} already existed; this run overwrites it with its own best epoch "
                      "(give each run its own path to keep both)")

    def save(self, model: nn.Module, **metadata) -> bool:
        try:
            save_checkpoint(self.path, model, **metadata)
        except Exception as err:  # noqa: BLE001  (any failed write: keep training, say so)
            self.note(f"could not write checkpoint {self.path} at epoch {metadata.get('epoch')}: "
                      f"{type(err).__name__}: {err}")
            return False
        return True

    def note(self, text: str) -> None:
        self.history.notes.append(text)
        warnings.warn(text, stacklevel=3)


# ----------------------------------------------------------------------------------------------- fit's small helpers
def check_monitor(monitor: str, val_loader) -> str:
    """``monitor``, with ``val_*`` replaced by ``train_*`` when there is no validation loader."""
    one_of(monitor, "monitor", tuple(MONITORS))
    return monitor.replace("val_", "train_") if val_loader is None and monitor.startswith("val_") else monitor


def check_on_interrupt(on_interrupt: str) -> str:
    """``"return"`` or ``"raise"``; ``"auto"`` is ``"return"`` in a Jupyter notebook, else ``"raise"``."""
    one_of(on_interrupt, "on_interrupt", ON_INTERRUPT)
    if on_interrupt == "auto":
        from .plotting import in_notebook  # plotting imports this module: import at call time

        return "return" if in_notebook() else "raise"
    return on_interrupt


def check_not_empty(loader: Iterable | None, argument: str) -> None:
    """A loader that knows its length must not be empty (its averages would be 0/0)."""
    if loader is not None and hasattr(loader, "__len__") and len(loader) == 0:
        raise ValueError(f"{argument} is empty (0 batches): fit needs at least one sample to train and average on")


def prepare_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer | str, lr: float | None):
    """The optimizer ``fit`` uses: built from a name and ``lr``, or the one given, checked against ``model``."""
    if isinstance(optimizer, str):
        if lr is None:
            raise ValueError(f"lr is required when optimizer is given by name ({optimizer!r}), e.g. lr=0.1")
        return make_optimizer(optimizer, model.parameters(), lr)
    if lr is not None:
        raise ValueError("give lr either to the optimizer you built or to fit(optimizer='name', lr=...), not both")
    for i, group in enumerate(optimizer.param_groups):
        check_lr(group["lr"], f"lr (optimizer param group {i})")
    check_optimizer_matches(model, optimizer)
    return optimizer


def check_amp(amp: bool, device: torch.device) -> bool:
    if amp and not bf16_supported(device):
        warnings.warn(f"amp=True needs a device that computes in bfloat16 natively (see utils.bf16_supported); "
                      f"training in float32 on {device}", stacklevel=3)
        return False
    return amp


def check_loss_fn(loss_fn) -> Callable:
    """``loss_fn``, or ``nn.CrossEntropyLoss()`` when None; refuses non-callables and summed losses."""
    if loss_fn is None:
        return nn.CrossEntropyLoss()
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be a loss module or function such as nn.CrossEntropyLoss() or "
                         f"torch.nn.functional.cross_entropy, got {loss_fn!r}")
    reduction = getattr(loss_fn, "reduction", "mean")
    if reduction != "mean":
        raise ValueError(
            f"loss_fn has reduction={reduction!r}; fit needs the batch mean (reduction='mean', the default): it "
            "weights each batch by its size, so with 'sum' training and validation losses come out on different "
            "scales (and the step size grows with the batch size); 'none' gives no single number to minimise")
    return loss_fn


def is_classification_loss(loss_fn) -> bool:
    """Whether ``loss_fn`` is cross-entropy or NLL, losses that are never below 0 on correct inputs."""
    functional = nn.functional
    return isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)) or loss_fn in (functional.cross_entropy,
                                                                                   functional.nll_loss)


def check_hooks(log: LogHook | Iterable[LogHook] | None) -> list[LogHook]:
    """``log`` as a list of hooks; a ``ValueError`` if it is neither a callable, a list of them, nor None."""
    if log is None:
        return []
    hooks = [log] if callable(log) else list(log) if isinstance(log, Iterable) and not isinstance(log, str) else None
    if hooks is None or not all(callable(hook) for hook in hooks):
        raise ValueError(f"log must be a callable hook(name, value, step), a list of them, or None; got {log!r}")
    return hooks


def emit(hooks: list[LogHook], name: str, value: float, step: int) -> None:
    for hook in hooks:
        hook(name, value, step)


def emit_epoch(hooks: list[LogHook], record: dict) -> None:
    """The epoch's numbers to every hook, then ``EPOCH`` last (a live plot redraws when it arrives)."""
    for name, key in EPOCH_EVENTS:
        if record[key] is not None:
            emit(hooks, name, record[key], record["step"])
    emit(hooks, EPOCH, record["epoch"], record["step"])


def save_resume_point(resumer: ResumePoint, model, optimizer, scheduler, train_loader, epoch: int, history: History,
                      best: BestKeeper, recorder: StepRecorder) -> None:
    """The state of the run after ``epoch`` to ``fit``'s ``resume`` file."""
    resumer.save(model=model, optimizer=optimizer, scheduler=scheduler, train_loader=train_loader, epoch=epoch,
                 steps=recorder.steps, history=history, best_value=best.value, best_state=best.state,
                 first_loss=recorder.guard.first)


def resume_run(resumer: ResumePoint, model, optimizer, scheduler, train_loader, device, history: History,
               best: BestKeeper, recorder: StepRecorder) -> int:
    """Load ``fit``'s ``resume`` file into the run's objects; returns the last epoch it had finished."""
    state = resumer.restore(model=model, optimizer=optimizer, scheduler=scheduler, train_loader=train_loader,
                            device=device)
    saved = state["history"]
    history.step_loss, history.epochs, history.notes = saved["step_loss"], saved["epochs"], saved["notes"]
    history.best_epoch, history.best_value = saved["best_epoch"], saved["best_value"]
    best.value, best.state = state["best_value"], state["best_state"]
    recorder.steps, recorder.guard.first = state["steps"], state["first_loss"]
    return state["epoch"]


def step_epoch_scheduler(scheduler, value: float) -> None:
    """Step a per-epoch scheduler; ``ReduceLROnPlateau`` is given the monitored value."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(value)
    else:
        scheduler.step()


def progress_bar(progress: bool, epochs: int, train_loader, label: str):
    from tqdm.auto import tqdm

    total_steps = epochs * len(train_loader) if hasattr(train_loader, "__len__") else None
    return tqdm(total=total_steps, disable=not progress, desc=label or "fit", unit="step", leave=False)

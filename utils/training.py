"""The training loop: ``train_one_epoch``, ``evaluate`` and ``fit``, which returns a ``History``.

Explained in notebooks/01_optimization_loops.ipynb (the loop by hand, then packaged here) and notebook 06
(every option of ``fit``). ``fit`` is notebook 01's loop::

    for epoch in 1 .. epochs:
        train_one_epoch   # forward, loss, zero_grad, backward, step; each step's loss recorded and logged
        evaluate          # on the validation loader, if there is one
        record and log the epoch; keep the best weights; step the scheduler; write the run file

Three rules replace case-by-case checks: **every exception leaving ``fit`` carries the History**
(``err.history``, best weights restored; Stop in a notebook returns it); **one run, one file** (``checkpoint``,
see ``utils.resume``: best weights plus what continues the run; other settings are refused; a failed write
names the file); **a stop is an exception a hook may raise** (``StopTraining``, ``Diverged``).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from . import checks, resume
from .checks import check_loader, check_scheduler, finite_number, hooks_list, mean_loss, one_of, positive_int
from .device import autocast_bf16, bf16_supported, pick_device, to_device
from .events import EPOCH, EPOCH_EVENTS, TRAIN_BATCH_LOSS, Diverged, StopTraining

#: a log hook: ``hook(name, value, step)``, called with the event names of ``utils.events``
LogHook = Callable[[str, float, int], None]
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where rich output can be displayed and Stop should not lose a run)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def check_lr(lr: float, argument: str = "lr") -> float:
    """``lr`` as a ``float`` if it is a finite number > 0; otherwise a ``ValueError`` naming ``argument``."""
    return finite_number(lr, argument, low=0, low_open=True, example="0.1 or 1e-3")


def check_optimizer_matches(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """A ``ValueError`` when none of ``optimizer``'s parameters belongs to ``model`` (it would train nothing)."""
    own = {id(p) for p in model.parameters()}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if params and not any(id(p) in own for p in params):
        raise ValueError(f"optimizer was built on another model's parameters, not on model "
                         f"({type(model).__name__}); build it with torch.optim.SGD(model.parameters(), lr=0.1)")


def make_optimizer(name: str, params: Iterable, lr: float, *, momentum: float = 0.9,
                   weight_decay: float | None = None) -> torch.optim.Optimizer:
    """A ``torch.optim`` optimizer by name: sgd, momentum (SGD + momentum), nesterov, rmsprop, adam, adamw.

    ``weight_decay`` defaults to 0, except for adamw (0.01, torch's default). Explained in notebook 04.
    """
    lr = check_lr(lr)
    decay = weight_decay if weight_decay is not None else (0.01 if name == "adamw" else 0.0)
    kind, extra = {"sgd": (torch.optim.SGD, {}), "momentum": (torch.optim.SGD, {"momentum": momentum}),
                   "nesterov": (torch.optim.SGD, {"momentum": momentum, "nesterov": True}),
                   "rmsprop": (torch.optim.RMSprop, {}), "adam": (torch.optim.Adam, {}),
                   "adamw": (torch.optim.AdamW, {})}[one_of(name, "optimizer", OPTIMIZERS)]
    return kind(params, lr=lr, weight_decay=decay, **extra)


# ----------------------------------------------------------------------------------------------- the two loops
@dataclass
class EpochResult:
    """Loss and accuracy of one pass over a loader, both averaged over samples."""

    loss: float
    accuracy: float
    samples: int


def _no_batches(loader) -> ValueError:
    return ValueError(f"loader gave no batches (a {type(loader).__name__} with 0 samples, or an iterator already "
                      "used up): there is nothing to average. Give a loader over a non-empty dataset.")


def _correct(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Right answers in a batch: the largest logit, or for one output column a binary logit (> 0: class 1); labels
    as class indices, one-hot or probabilities (their argmax), or a column of N x 1."""
    guess = (logits[:, 0] > 0).long() if logits.ndim == 2 and logits.shape[1] == 1 else logits.argmax(dim=1)
    return (guess == (y.argmax(dim=1) if y.ndim > 1 and y.shape[1] > 1 else y.reshape(len(y)).long())).sum()


def train_one_epoch(model: nn.Module, loader: Iterable, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                    device: torch.device, *, on_step: Callable[[torch.Tensor], object] | None = None,
                    amp: bool = False, scheduler=None) -> EpochResult:
    """One pass over ``loader`` updating the parameters: forward, loss, zero_grad, backward, step.

    Batches are ``(inputs, labels, ...)``: entries after the labels are ignored. ``scheduler`` (optional) is
    stepped after every optimizer step. ``on_step(loss)`` gets every step's detached loss; returning True ends
    the epoch early.
    """
    model.train()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for batch in loader:
        x, y = (to_device(t, device) for t in checks.inputs_and_labels(batch))
        with autocast_bf16(device, amp):
            logits = model(x)
            loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.detach().float() * len(y)  # .detach(): keep the number, not the graph
        correct += _correct(logits.detach(), y)
        seen += len(y)
        if on_step is not None and on_step(loss.detach()):
            break
    if seen == 0:
        raise _no_batches(loader)
    return EpochResult(loss=total_loss.item() / seen, accuracy=correct.item() / seen, samples=seen)


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: torch.device, *,
             amp: bool = False) -> EpochResult:
    """Loss and accuracy of ``model`` on ``loader`` in eval mode, without gradients; the mode is restored after."""
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    try:
        with torch.no_grad():
            for batch in loader:
                x, y = (to_device(t, device) for t in checks.inputs_and_labels(batch))
                with autocast_bf16(device, amp):
                    logits = model(x)
                    loss = loss_fn(logits, y)
                total_loss += loss.float() * len(y)
                correct += _correct(logits, y)
                seen += len(y)
    finally:
        model.train(was_training)
    if seen == 0:
        raise _no_batches(loader)
    return EpochResult(loss=total_loss.item() / seen, accuracy=correct.item() / seen, samples=seen)


def diverged_message(step: int, epoch: int, lr: float, what: str) -> str:
    return (f"Training diverged at step {step} (epoch {epoch}) with lr {lr:g}: {what}. "
            f"Try a learning rate about 10x smaller (e.g. {lr / 10:g}), or clip gradients.")


# ----------------------------------------------------------------------------------------------- history
@dataclass
class History:
    """What ``fit`` recorded.

    ``step_loss``: the training loss of every optimizer step. ``epochs``: one dict per epoch with ``epoch``,
    ``step`` (optimizer steps so far), ``lr``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` and
    ``time`` (seconds since the start). ``stop_reason`` says why a run ended early (``"diverged"``,
    ``"interrupted"``, ``"stopped"`` by a hook; None when it ran all its epochs), ``message`` says it in words;
    ``diverged`` and ``interrupted`` are those two cases as flags. ``notes``: things worth knowing that did not
    stop the run (a resumed run). ``label`` names the run in plots (set it: ``history.label = "adam"``).
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
        self.diverged, self.interrupted = reason == "diverged", reason == "interrupted"

    def metric(self, name: str) -> list[float]:
        """Per-epoch values of ``name``, e.g. ``history.metric("val_acc")``."""
        return [e[name] for e in self.epochs if e.get(name) is not None]

    train_loss = property(lambda self: self.metric("train_loss"), doc="Per-epoch training loss.")
    val_loss = property(lambda self: self.metric("val_loss"), doc="Per-epoch validation loss.")
    train_acc = property(lambda self: self.metric("train_acc"), doc="Per-epoch training accuracy.")
    val_acc = property(lambda self: self.metric("val_acc"), doc="Per-epoch validation accuracy.")
    lr = property(lambda self: self.metric("lr"), doc="The rate each epoch's first step used (logged at that step).")

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        extra = [m for m in (self.message, *self.notes) if m]
        if not self.epochs:
            return "\n".join(extra) or "no epoch completed"
        last = self.epochs[-1]
        parts = [f"{len(self.epochs)} epoch(s) in {self.elapsed:.1f}s on {self.device}",
                 f"last epoch: train loss {last['train_loss']:.4f}"]
        if last.get("val_loss") is not None:
            parts.append(f"val loss {last['val_loss']:.4f}, val acc {last['val_acc']:.1%}")
        if self.best_epoch is not None:
            parts.append(f"best {self.monitor} {self.best_value:.4f} at epoch {self.best_epoch}"
                         + (" (restored into the model)" if self.restored_best else ""))
        return "\n".join(["; ".join(parts), *extra])


# ----------------------------------------------------------------------------------------------- fit
def fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable | None = None, *, epochs: int = 1,
        optimizer: torch.optim.Optimizer | str = "sgd", lr: float | None = None, loss_fn: Callable | None = None,
        scheduler=None, scheduler_interval: str = "epoch", device: torch.device | str | None = None,
        log: LogHook | Iterable[LogHook] | None = None, restore_best: bool = True, checkpoint=None,
        amp: bool = False) -> History:
    """Train ``model`` for ``epochs`` epochs (a training phase, then a validation phase); returns the History.

    - ``optimizer``: a ``torch.optim`` optimizer built on ``model``'s parameters, or a name with ``lr``.
    - ``loss_fn``: ``nn.CrossEntropyLoss()`` by default (the model outputs logits); it must average over the batch.
    - ``scheduler``: built on ``optimizer``; stepped once per epoch (``ReduceLROnPlateau`` gets the monitored
      value), or after every step with ``scheduler_interval="step"``.
    - ``log``: a hook ``log(name, value, step)`` or a list of them (``utils.events`` names the events): a
      ``LivePlot``'s ``log``, TensorBoard's ``add_scalar``, ``DivergenceGuard(4)``. A hook may raise
      ``StopTraining``.
    - The best epoch by ``history.monitor`` (validation loss; training loss without a validation loader) is
      restored at the end when ``restore_best``.
    - ``checkpoint``: a run file, written after every epoch (see the module docstring and ``utils.resume``).
    - ``amp=True``: bfloat16 autocast where the device computes in bfloat16 natively (``bf16_supported``);
      elsewhere ``fit`` trains in float32 and says so in ``history.notes``.
    """
    history = History(monitor="val_loss" if val_loader is not None else "train_loss", device=str(device))
    best = {"value": None, "state": None}
    start, failure, epoch = time.perf_counter(), None, 0
    try:  # the set-up is inside: an interrupt or a refused argument there leaves fit with the History too
        device = pick_device(device)
        history.device = str(device)
        epochs = positive_int(epochs, "epochs")
        one_of(scheduler_interval, "scheduler_interval", ("epoch", "step"))
        check_loader(train_loader, "train_loader"), val_loader is None or check_loader(val_loader, "val_loader")
        optimizer = _prepare_optimizer(model, optimizer, lr)
        check_scheduler(scheduler, optimizer, scheduler_interval)
        loss_fn, hooks = mean_loss(loss_fn) or nn.CrossEntropyLoss(), hooks_list(log)
        if amp and not bf16_supported(device):
            amp = False
            history.notes.append(f"amp=True needs native bfloat16 (utils.bf16_supported): float32 on {device}")
            warnings.warn(history.notes[-1], stacklevel=2)
        run = resume.RunFile(checkpoint, model, optimizer, scheduler, train_loader, scheduler_interval, history.monitor) \
            if checkpoint is not None else None
        model.to(device)  # only once the arguments are accepted: a refused call leaves the model where it was
        first_epoch = 1 + (run.restore(history, best, device) if run is not None else 0)
        steps = history.epochs[-1]["step"] if history.epochs else 0
        step_scheduler = scheduler if scheduler_interval == "step" else None

        def on_step(loss: torch.Tensor) -> None:
            nonlocal steps
            steps += 1
            value = loss.item()
            history.step_loss.append(value)
            _emit(hooks, TRAIN_BATCH_LOSS, value, steps)
            if not math.isfinite(value):
                raise Diverged(f"the loss became {value}" + (" at the first step: look for nan or inf in the "
                                                             "inputs, labels or initial weights" if steps == 1
                                                             else ""))

        for epoch in range(first_epoch, epochs + 1):
            lr_now, first_step = float(optimizer.param_groups[0]["lr"]), steps + 1  # the rate of the epoch's first step
            train = train_one_epoch(model, train_loader, loss_fn, optimizer, device, on_step=on_step, amp=amp,
                                    scheduler=step_scheduler)
            record = {"epoch": epoch, "step": steps, "lr": lr_now, "train_loss": train.loss,
                      "train_acc": train.accuracy, "val_loss": None, "val_acc": None}
            if val_loader is not None:
                val = evaluate(model, val_loader, loss_fn, device, amp=amp)
                record["val_loss"], record["val_acc"] = val.loss, val.accuracy
            record["time"] = time.perf_counter() - start
            history.epochs.append(record)
            for name, key in [*EPOCH_EVENTS, (EPOCH, "epoch")]:  # EPOCH last: a live plot redraws when it arrives
                if record[key] is not None:
                    _emit(hooks, name, record[key], first_step if key == "lr" else steps)  # lr: at the step it drove
            value = record[history.monitor]
            if not math.isfinite(value):
                raise Diverged(f"the epoch's {history.monitor} became {value}")
            if best["value"] is None or value < best["value"]:
                history.best_epoch, history.best_value = epoch, value
                best["value"] = value
                if restore_best or run is not None:
                    best["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if scheduler is not None and scheduler_interval == "epoch":  # ReduceLROnPlateau needs the value
                plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
                scheduler.step(value) if plateau else scheduler.step()
            if run is not None:
                run.save(epoch, history, best)
    except StopTraining as err:  # a normal end, only earlier
        history.stop(err.reason, str(err) or f"A log hook stopped the run ({type(err).__name__}).")
        if isinstance(err, Diverged):  # at the first step the learning rate is not the cause: no lr advice
            history.message = f"Training stopped at step 1 (epoch 1): {err}." if len(history.step_loss) == 1 \
                else diverged_message(len(history.step_loss), epoch, float(optimizer.param_groups[0]["lr"]), str(err))
    except BaseException as err:  # every exception leaves fit with the History (below)
        failure = err
        if isinstance(err, KeyboardInterrupt):
            history.stop("interrupted", f"Training was interrupted; the History holds the {len(history.epochs)} "
                                        "finished epoch(s).")
    if restore_best and best["state"] is not None:
        model.load_state_dict(best["state"])
        history.restored_best = True
    if history.stop_reason and history.best_epoch is None:
        history.message += " No epoch finished, so the model keeps its last weights."
    history.elapsed = time.perf_counter() - start
    if failure is None or (isinstance(failure, KeyboardInterrupt) and in_notebook()):
        return history
    failure.history = history
    failure.add_note(f"fit: the History of the {len(history.epochs)} finished epoch(s) is attached as err.history"
                     + (f"; the best epoch ({history.best_epoch}) was restored" if history.restored_best else "")
                     + f"; the error came after optimizer step {len(history.step_loss)}.")
    raise failure


# ----------------------------------------------------------------------------------------------- fit's helpers
def _prepare_optimizer(model: nn.Module, optimizer, lr):
    if isinstance(optimizer, str):
        if lr is None:
            raise ValueError(f"lr is required when optimizer is given by name ({optimizer!r}), e.g. lr=0.1")
        return make_optimizer(optimizer, model.parameters(), lr)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a name ({', '.join(OPTIMIZERS)}) or a torch.optim optimizer built on "
                         f"the model's parameters, e.g. torch.optim.SGD(model.parameters(), lr=0.1); got {optimizer!r}")
    if lr is not None:
        raise ValueError("give lr either to the optimizer you built or to fit(optimizer='name', lr=...), not both")
    for i, group in enumerate(optimizer.param_groups):
        check_lr(group["lr"], f"lr (optimizer param group {i})")
    check_optimizer_matches(model, optimizer)
    return optimizer


def _emit(hooks: list[LogHook], name: str, value: float, step: int) -> None:
    for hook in hooks:
        hook(name, value, step)


"""The names of the events ``fit`` sends to its ``log`` hooks, spelled once, and what a hook raises to stop a run.

A hook is any callable ``hook(name, value, step)``. ``fit`` sends, in this order:
``TRAIN_BATCH_LOSS`` for every step's loss, then once per epoch
``TRAIN_LOSS``, ``TRAIN_ACC``, ``VAL_LOSS``, ``VAL_ACC`` (when there is validation data), ``LR``, and last
``EPOCH`` (a live plot redraws when it arrives). Explained in notebooks/06_putting_it_all_together.ipynb.

A hook stops a run by raising ``StopTraining`` (a tuner's pruner, notebook 05b) or ``Diverged``
(``DivergenceGuard``, notebook 05); ``fit`` then ends the run cleanly and returns its History.
"""

from __future__ import annotations

from .checks import finite_number

TRAIN_BATCH_LOSS = "train/batch_loss"
TRAIN_LOSS = "train/loss"
TRAIN_ACC = "train/acc"
VAL_LOSS = "val/loss"
VAL_ACC = "val/acc"
LR = "lr"
EPOCH = "epoch"

#: the per-epoch events and the History record key each one carries
EPOCH_EVENTS = ((TRAIN_LOSS, "train_loss"), (TRAIN_ACC, "train_acc"), (VAL_LOSS, "val_loss"), (VAL_ACC, "val_acc"),
                (LR, "lr"))


class StopTraining(Exception):
    """Raise it from a ``log`` hook to end a run early and cleanly (a tuner pruning a trial, notebook 05b).

    ``fit`` records ``stop_reason`` (``reason``) and the text as ``message``, restores the best weights and
    returns the History. An epoch whose ``val/loss`` event raised it is recorded but not considered for the best.
    """

    reason = "stopped"


class Diverged(StopTraining):
    """The loss blew up: not finite (``fit``'s own check), or above ``DivergenceGuard``'s limit."""

    reason = "diverged"


class DivergenceGuard:
    """A log hook that stops a run whose step loss exceeds ``factor`` times the first step's (notebook 05).

    ``fit(..., log=[plot.log, DivergenceGuard(4)])``: a too-large learning rate often sends the loss to the
    thousands without reaching ``inf``, which ``fit``'s own check (not finite) would miss. A run continued from
    its ``checkpoint`` starts after step 1: give the guard that run's first loss, ``first=history.step_loss[0]``
    (a later, smaller loss as the reference would stop a healthy run).
    """

    def __init__(self, factor: float = 4.0, first: float | None = None):
        self.factor = finite_number(factor, "factor", low=1, low_open=True, example="4")
        self.first = None if first is None else finite_number(first, "first", low=0, low_open=True, example="2.3")

    def __call__(self, name: str, value: float, step: int) -> None:
        if name != TRAIN_BATCH_LOSS:
            return
        if step == 1:  # a run's first step (a new run with the same guard starts again here)
            self.first = value
        elif self.first is None:
            raise ValueError(f"DivergenceGuard joined the run at step {step}, after its first loss: give it the "
                             "run's first loss, DivergenceGuard(4, first=history.step_loss[0]) for a continued run")
        elif value > self.factor * self.first:
            raise Diverged(f"the loss reached {value:.3g}, more than {self.factor:g}x its first value "
                           f"{self.first:.3g}")

"""Every exercise checker against a catalogue of wrong answers (issue 21, item 5).

For every exercise registered in ``utils.exercises``: its own solution passes; at least five wrong answers a
learner would plausibly give (the classic slips of each question and the wrong verdicts found by the reviews of
2026-12-04, notebooks-r1.md ... r5.md) get a verdict that is not "Correct"; and a set of hostile answers (an
object whose ``__eq__`` is always True, NaN, ``10**400``, text, functions that raise, never return or call
``sys.exit``, ...) get a verdict in words, without raising, within a time limit, and leave the learner's random
generators and autograd as they were. A new exercise without catalogue entries fails
``test_every_exercise_has_a_catalogue``: add five wrong answers for it below.
"""

from __future__ import annotations

import math
import random
import re
import signal
import sys
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import load as imported_torch_load  # imported before the check: escapes a patch of torch.load
from torch import nn
from torch.nn.functional import cross_entropy as imported_cross_entropy  # escapes a patch of F.cross_entropy

from utils.exercises import CheckResult, Incorrect, all_exercises, as_number, as_whole_number, call_answer

EXERCISES = {(nb, ex.name): ex for nb, ex in all_exercises()}
TIME_LIMIT = 10.0  # seconds, the default of Exercise.check
HANG_LIMIT = 0.1  # the time limit given to the answers that never return (keeps the file fast)
SLACK = 10.0  # a loaded 2-core machine; an import under way delays the time limit


# ----------------------------------------------------------------------------------------------- hostile answers
class AlwaysEqual:
    """Equal to everything, true, callable (returning itself), iterable (yielding itself), hashable."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = object.__hash__

    def __bool__(self):
        return True

    def __call__(self, *args, **kwargs):
        return self

    def __iter__(self):
        return iter([self, self])

    def __len__(self):
        return 2

    def __getitem__(self, key):
        return self


class ShiftyFloat:
    """A different number at every conversion: 0, 1, 2, ... (an answer converted twice can pass one test
    and fail the other)."""

    def __init__(self):
        self.calls = 0

    def __float__(self):
        self.calls += 1
        return float(self.calls - 1)

    def __index__(self):
        return self.calls


class RaisingFloat:
    def __float__(self):
        raise RuntimeError("no float for you")

    def __repr__(self):
        raise RuntimeError("no repr either")


def _raises(*args, **kwargs):
    return 1 / 0


def _never_returns(*args, **kwargs):
    while True:
        pass


def _swallows_interrupts(*args, **kwargs):
    while True:
        try:
            while True:
                pass
        except BaseException:  # noqa: BLE001  (the point: a bare except that swallows the time limit once)
            return None


def _exits(*args, **kwargs):
    sys.exit(0)


def _turns_autograd_off(*args, **kwargs):
    torch.set_grad_enabled(False)
    return 0.0


def _reseeds(*args, **kwargs):
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    raise ValueError("after reseeding everything")


class _RaisingClass:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("broken constructor")


class _HangingClass:
    def __init__(self, *args, **kwargs):
        _never_returns()


class _ExitingClass:
    def __init__(self, *args, **kwargs):
        sys.exit(1)


HOSTILE = [  # (name, factory, time limit)
    ("__eq__ always True", AlwaysEqual, TIME_LIMIT),
    ("function returning an always-equal object", lambda: (lambda *a, **k: AlwaysEqual()), TIME_LIMIT),
    ("__float__ shifts at each call", ShiftyFloat, TIME_LIMIT),
    ("__float__ and __repr__ raise", RaisingFloat, TIME_LIMIT),
    ("NaN", lambda: math.nan, TIME_LIMIT),
    ("infinity", lambda: math.inf, TIME_LIMIT),
    ("10**400", lambda: 10**400, TIME_LIMIT),
    ("NaN tensor", lambda: torch.tensor(math.nan), TIME_LIMIT),
    ("a string", lambda: "I don't know", TIME_LIMIT),
    ("an empty string", lambda: "", TIME_LIMIT),
    ("True", lambda: True, TIME_LIMIT),
    ("None", lambda: None, TIME_LIMIT),
    ("an empty list", lambda: [], TIME_LIMIT),
    ("an empty dict", lambda: {}, TIME_LIMIT),
    ("a function that raises", lambda: _raises, TIME_LIMIT),
    ("a function that returns NaN", lambda: (lambda *a, **k: math.nan), TIME_LIMIT),
    ("a function that calls sys.exit", lambda: _exits, TIME_LIMIT),
    ("a function that switches autograd off", lambda: _turns_autograd_off, TIME_LIMIT),
    ("a function that reseeds every generator", lambda: _reseeds, TIME_LIMIT),
    ("a function that never returns", lambda: _never_returns, HANG_LIMIT),
    ("a function that swallows the time limit once", lambda: _swallows_interrupts, HANG_LIMIT),
    ("a class whose constructor raises", lambda: _RaisingClass, TIME_LIMIT),
    ("a class whose constructor never returns", lambda: _HangingClass, HANG_LIMIT),
    ("a class whose constructor calls sys.exit", lambda: _ExitingClass, TIME_LIMIT),
]


# ----------------------------------------------------------------------------------------------- 01
def _train_step(zero_grad="before", step=True, returns="item", loss_after=False):
    def train_step(model, x, y, loss_fn, optimizer):
        loss = loss_fn(model(x), y)
        if zero_grad == "before":
            optimizer.zero_grad()
        loss.backward()
        if zero_grad == "between":
            optimizer.zero_grad()
        if step:
            optimizer.step()
        if loss_after:
            with torch.no_grad():
                loss = loss_fn(model(x), y)
        return {"item": lambda: loss.item(), "tensor": lambda: loss, "detached": lambda: loss.detach(),
                "none": lambda: None}[returns]()
    return train_step


def _evaluate(eval_mode=True, no_grad="with", train_after=True, per_batch=False, percent=False, swap=False,
              shape="tuple"):
    def evaluate(model, loader, loss_fn, device):
        if eval_mode:
            model.eval()
        if no_grad == "global":
            torch.set_grad_enabled(False)
        context = torch.no_grad() if no_grad == "with" else torch.enable_grad() if no_grad == "none" else \
            torch.no_grad()
        losses, correct, seen, batches = 0.0, 0.0, 0, 0
        with context:
            for x, y in loader:
                logits = model(x.to(device))
                loss = loss_fn(logits, y.to(device)).item()
                hits = (logits.argmax(dim=1) == y.to(device)).sum().item()
                if per_batch:
                    losses, correct = losses + loss, correct + hits / len(y)
                else:
                    losses, correct = losses + loss * len(y), correct + hits
                seen += len(y)
                batches += 1
        if train_after:
            model.train()
        loss, accuracy = (losses / batches, correct / batches) if per_batch else (losses / seen, correct / seen)
        if percent:
            accuracy *= 100
        if shape == "dict":
            return {"loss": loss, "accuracy": accuracy}
        if shape == "triple":
            return loss, accuracy, seen
        return (accuracy, loss) if swap else (loss, accuracy)
    return evaluate


# ----------------------------------------------------------------------------------------------- 02
def _ce_global_max(logits, targets):  # r1 objection 4a: one max for the whole batch, not per row
    m = logits.max()
    lse = m + torch.log(torch.exp(logits - m).sum(dim=1))
    return (lse - logits[torch.arange(len(targets)), targets]).mean()


def _ce_imported(logits, targets):  # r1 objection 4b: the forbidden function under another name
    return imported_cross_entropy(logits, targets)


def _ce_item(logits, targets):
    return (torch.logsumexp(logits, dim=1) - logits[torch.arange(len(targets)), targets]).mean().item()


def _ce_sum(logits, targets):
    return (torch.logsumexp(logits, dim=1) - logits[torch.arange(len(targets)), targets]).sum()


def _ce_dim0(logits, targets):
    return (torch.logsumexp(logits, dim=0)[targets] - logits[torch.arange(len(targets)), targets]).mean()


def _ce_per_sample(logits, targets):
    return torch.logsumexp(logits, dim=1) - logits[torch.arange(len(targets)), targets]


def _ce_log_softmax_by_hand(logits, targets):  # -log(softmax): underflows to log(0) for huge logits
    probs = torch.softmax(logits, dim=1)
    return -torch.log(probs[torch.arange(len(targets)), targets]).mean()


def _loss_dict(**changes):
    answer = {"price": nn.MSELoss, "spam": nn.BCEWithLogitsLoss, "tags": nn.BCEWithLogitsLoss,
              "digit": nn.CrossEntropyLoss}
    answer.update(changes)
    return {k: v for k, v in answer.items() if v is not None}


# ----------------------------------------------------------------------------------------------- 03, 03b
def _init(kind):
    def init_kaiming(model):
        modules = model.children() if kind == "children" else model.modules()
        for module in modules:
            if isinstance(module, nn.Linear):
                if kind == "fan_out":
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                elif kind == "linear":
                    nn.init.kaiming_normal_(module.weight, nonlinearity="linear")
                elif kind == "mean_1":
                    nn.init.normal_(module.weight, mean=1.0, std=math.sqrt(2 / module.in_features))
                elif kind == "uniform":
                    nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
                elif kind == "signs":
                    with torch.no_grad():
                        module.weight.copy_(torch.randn_like(module.weight).sign() * math.sqrt(2 / module.in_features))
                else:
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if kind != "keep_bias":
                    nn.init.zeros_(module.bias)
        return None if kind == "no_return" else model
    return init_kaiming


# ----------------------------------------------------------------------------------------------- 04
class _Adagrad:
    """Adagrad with one switchable slip (``kind``)."""

    kind = "right"

    def __init__(self, params, lr=0.01, eps=1e-10):
        self.params, self.lr, self.eps = list(params), lr, eps
        self.sums = [torch.zeros_like(p) for p in self.params]
        if self.kind == "hard_lr":
            self.lr = 0.1

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.kind == "one_slot":  # every tensor into the first sum (r3 objection 6)
                self.sums[0] = self.sums[0] + g**2
                total = self.sums[0]
            elif self.kind == "index":  # the beginner idiom of r3 objection 6
                total = self.sums[self.params.index(p)]
                total += g**2
            elif self.kind == "not_in_place":
                total = self.sums[i] + g**2  # a new tensor: the stored sum never grows
            elif self.kind == "update_first":
                p -= self.lr * g / (self.sums[i].sqrt() + self.eps)
                self.sums[i] += g**2
                continue
            else:
                self.sums[i] += g**2
                total = self.sums[i]
            denominator = total if self.kind == "no_sqrt" else total.sqrt()
            p -= self.lr * g / (denominator + self.eps)


def _adagrad(kind):
    return type(f"Adagrad_{kind}", (_Adagrad,), {"kind": kind})


# ----------------------------------------------------------------------------------------------- 05
def _suggest_point_before(lrs, smoothed):  # r4 objection 6: "the point before the minimum"
    values = np.where(np.isfinite(smoothed), smoothed, np.inf)
    i = int(np.argmin(values))
    return lrs[max(i - 1, 0)]


def _suggest_builtin_min(lrs, smoothed):  # r4 objection 6: no NaN handling at all
    return lrs[smoothed.index(min(smoothed))] / 10


def _suggest_no_tenth(lrs, smoothed):
    values = np.where(np.isfinite(smoothed), smoothed, np.inf)
    return lrs[int(np.argmin(values))]


def _suggest_hundredth(lrs, smoothed):
    values = np.where(np.isfinite(smoothed), smoothed, np.inf)
    return lrs[int(np.argmin(values))] / 100


def _suggest_right(lrs, smoothed):
    values = np.where(np.isfinite(smoothed), smoothed, np.inf)
    return lrs[int(np.argmin(values))] / 10


def _suggest_steepest(lrs, smoothed):  # the steepest descent instead of the minimum
    values = np.asarray(smoothed, dtype=float)
    return lrs[int(np.nanargmin(np.diff(values)))]


# ----------------------------------------------------------------------------------------------- 06
def _restore(load="utils", evaluate=True, load_weights=True, return_state=False):
    def restore_for_inference(path, build_model):
        import utils

        model = build_model()
        if load_weights:
            if load == "utils":
                utils.load_checkpoint(path, model)
            elif load == "unsafe":
                model.load_state_dict(torch.load(path, weights_only=False)["model"])
            elif load == "alias":  # r5 objection 14: the attribute torch.load is not the only way in
                model.load_state_dict(imported_torch_load(path, weights_only=False)["model"])
            elif load == "default":
                model.load_state_dict(torch.load(path)["model"])
            elif load == "serialization":
                model.load_state_dict(torch.serialization.load(path, weights_only=False)["model"])
        if return_state:
            return model.state_dict()
        return model.eval() if evaluate else model
    return restore_for_inference


def _per_class(kind):
    def per_class_accuracy(confusion):
        c = torch.as_tensor(confusion, dtype=torch.float64)
        if kind == "precision":
            return c.diagonal() / c.sum(dim=0)
        if kind == "percent":
            return 100 * c.diagonal() / c.sum(dim=1)
        if kind == "counts":
            return c.diagonal()
        if kind == "total":
            return c.diagonal() / c.sum()
        if kind == "keepdim":
            return c.diagonal() / c.sum(dim=1, keepdim=True)
        if kind == "overall":
            return c.diagonal().sum() / c.sum()
        if kind == "three":  # right, but only for the first three classes
            return torch.stack([c[i, i] / c[i].sum() for i in range(3)])
        if kind == "f1":
            precision, recall = c.diagonal() / c.sum(dim=0), c.diagonal() / c.sum(dim=1)
            return 2 * precision * recall / (precision + recall)
        raise AssertionError(kind)
    return per_class_accuracy


# ----------------------------------------------------------------------------------------------- 07
def _rank_loss(kind):
    def rank_loss(logits, targets, global_batch_size, world_size):
        if kind == "mean":
            return F.cross_entropy(logits, targets)
        if kind == "sum":
            return F.cross_entropy(logits, targets, reduction="sum")
        if kind == "mean_times_world":
            return F.cross_entropy(logits, targets) * world_size
        if kind == "sum_over_world":
            return F.cross_entropy(logits, targets, reduction="sum") / world_size
        if kind == "sum_over_local":
            return F.cross_entropy(logits, targets, reduction="sum") / len(targets)
        raise AssertionError(kind)
    return rank_loss


# ----------------------------------------------------------------------------------------------- the catalogue
CATALOGUE = {  # (notebook, exercise): [(what the learner did, factory of the answer)]
    ("01", "q1"): [
        ("no zero_grad", lambda: _train_step(zero_grad="never")),
        ("zero_grad between backward and step", lambda: _train_step(zero_grad="between")),
        ("no optimizer.step()", lambda: _train_step(step=False)),
        ("returns the loss tensor with its graph", lambda: _train_step(returns="tensor")),
        ("returns a detached tensor", lambda: _train_step(returns="detached")),
        ("returns nothing", lambda: _train_step(returns="none")),
        ("returns the loss after the update", lambda: _train_step(loss_after=True)),
        ("the step in eval mode (review 00_01, objection 14)",
         lambda: lambda model, *args: (model.eval(), _train_step()(model, *args))[1]),
        ("a right step that leaves the model in eval mode (review 2026-12-05b/01, objection 4)",
         lambda: lambda model, *args: (model.train(), _train_step()(model, *args), model.eval())[1]),
    ],
    ("01", "q2"): [
        ("mean of the batch means", lambda: _evaluate(per_batch=True)),
        ("no model.eval()", lambda: _evaluate(eval_mode=False)),
        ("gradients tracked", lambda: _evaluate(no_grad="none")),
        ("no model.train() at the end", lambda: _evaluate(train_after=False)),
        ("accuracy in percent", lambda: _evaluate(percent=True)),
        ("(accuracy, loss) swapped", lambda: _evaluate(swap=True)),
        ("autograd switched off for the whole process (r1 objection 5)", lambda: _evaluate(no_grad="global")),
        ("a dict", lambda: _evaluate(shape="dict")),
        ("a 3-tuple", lambda: _evaluate(shape="triple")),
        ("the numbers as text (review 00_01, objection 13)",
         lambda: lambda *args: tuple(str(v) for v in _evaluate()(*args))),
        ("measures, then changes the weights (review 00_01, objection 13)",
         lambda: lambda model, *args: (_evaluate()(model, *args), [p.data.add_(1.0) for p in model.parameters()])[0]),
    ],
    ("01", "q3"): [("843 (full batches only)", lambda: 843), ("843.75", lambda: 54_000 / 64),
                   ("845", lambda: 845), ("54,000", lambda: 54_000), ("64", lambda: 64), ("0", lambda: 0)],
    ("02", "q1"): [
        ("bare exp (overflows)", lambda: EXERCISES[("02", "q1")].typical_mistake()),
        ("-log(softmax) (underflows to log 0)", lambda: _ce_log_softmax_by_hand),
        ("one max for the whole batch (r1 objection 4a)", lambda: _ce_global_max),
        ("F.cross_entropy imported under another name (r1 objection 4b)", lambda: _ce_imported),
        ("returns a float (.item())", lambda: _ce_item),
        ("sum instead of mean", lambda: _ce_sum),
        ("normalised over dim=0", lambda: _ce_dim0),
        ("no mean: one loss per sample", lambda: _ce_per_sample),
    ],
    ("02", "q2"): [("divided by the number of samples", lambda: 13.8 / 4), ("unweighted mean", lambda: 0.9),
                   ("weighted sum", lambda: 13.8), ("divided by the sum of the class weights", lambda: 13.8 / 5),
                   ("unweighted sum", lambda: 3.6), ("the weights' mean", lambda: 2.5),
                   ("weighted average of the class means (review 02 objection 8)", lambda: (0.2 + 4 * 3.4 / 3) / 5),
                   ("divided by (N / C) * sum of the class weights (review 02 objection 8)", lambda: 13.8 / 10),
                   ("weights swapped", lambda: 4.2 / 7)],
    ("02", "q3"): [
        ("BCE for the digits", lambda: _loss_dict(digit=nn.BCEWithLogitsLoss)),
        ("NLLLoss on logits for the digits", lambda: _loss_dict(digit=nn.NLLLoss)),
        ("CrossEntropyLoss for the tags", lambda: _loss_dict(tags=nn.CrossEntropyLoss)),
        ("BCELoss (probabilities) for spam", lambda: _loss_dict(spam=nn.BCELoss)),
        ("CrossEntropyLoss for the price", lambda: _loss_dict(price=nn.CrossEntropyLoss)),
        ("a key missing", lambda: _loss_dict(price=None)),
        ("a list instead of a dict", lambda: list(_loss_dict().values())),
        ("'mse', not a torch.nn class name (review 02 objection 9)", lambda: _loss_dict(price="mse")),
    ],
    ("02", "q4"): [("ln 10 (cross-entropy's start)", lambda: math.log(10)), ("0.5", lambda: 0.5),
                   ("0", lambda: 0.0), ("ln 2 / 10", lambda: math.log(2) / 10), ("10 ln 2", lambda: 10 * math.log(2)),
                   ("1", lambda: 1.0)],
    ("03", "q1"): [("dL/dy_hat", lambda: -0.8), ("no factor 2", lambda: -1.2), ("wrong sign", lambda: 2.4),
                   ("y_hat - y", lambda: -0.4), ("y_hat", lambda: 1.6), ("the loss", lambda: 0.16),
                   ("the right number as text", lambda: "-2.4")],
    ("03", "q2"): [("one backward call", lambda: 8.0), ("the value of y", lambda: 15.0), ("zero", lambda: 0.0),
                   ("two values of y", lambda: 30.0), ("three calls", lambda: 24.0),
                   ("one call, as a tensor", lambda: torch.tensor(8.0)), ("16 as text", lambda: "16"),
                   ("'None' as text: print(x.grad) shows None (r2 objection 17)", lambda: "None")],
    ("03", "q3"): [
        ("sigmoid applied again", lambda: (lambda s: (1 / (1 + math.exp(-s))) * (1 - 1 / (1 + math.exp(-s))))),
        ("s (1 + s)", lambda: (lambda s: s * (1 + s))), ("1 - s", lambda: (lambda s: 1 - s)),
        ("s", lambda: (lambda s: s)), ("tanh's 1 - s**2", lambda: (lambda s: 1 - s**2)),
        ("the u-form with s for u", lambda: (lambda s: math.exp(-s) / (1 + math.exp(-s)) ** 2)),
        ("print instead of return", lambda: (lambda s: print(s * (1 - s)))),
    ],
    ("03b", "q1"): [("Xavier's sqrt(1/512)", lambda: math.sqrt(1 / 512)), ("the variance 2/512", lambda: 2 / 512),
                    ("sqrt(1/1024)", lambda: math.sqrt(1 / 1024)), ("1/512", lambda: 1 / 512),
                    ("sqrt(2)", lambda: math.sqrt(2)), ("sigma squared", lambda: 0.0625**2),
                    ("0.06, rounded too far (r2 objection 16)", lambda: 0.06)],
    ("03b", "q2"): [
        ("Xavier instead of Kaiming", lambda: EXERCISES[("03b", "q2")].typical_mistake()),
        ("kaiming_normal_ on the model itself (r2 objection 14)", lambda: (lambda m: nn.init.kaiming_normal_(m.weight))),
        ("mode='fan_out'", lambda: _init("fan_out")),
        ("biases left as they were", lambda: _init("keep_bias")),
        ("only the top-level children", lambda: _init("children")),
        ("no return", lambda: _init("no_return")),
        ("nonlinearity='linear'", lambda: _init("linear")),
        ("normal weights of mean 1", lambda: _init("mean_1")),
        ("kaiming_uniform_ (the question asks for normal)", lambda: _init("uniform")),
        ("+-sqrt(2/fan_in), random signs", lambda: _init("signs")),
    ],
    ("04", "q1"): [("2/40", lambda: 2 / 40), ("2/6", lambda: 2 / 6), ("2/3", lambda: 2 / 3), ("1/80", lambda: 1 / 80),
                   ("0.02 (converges, not the limit)", lambda: 0.02), ("0.03 (diverges)", lambda: 0.03),
                   ("0", lambda: 0.0), ("negative", lambda: -0.025)],
    ("04", "q2"): [
        ("a running average (RMSprop)", lambda: EXERCISES[("04", "q2")].typical_mistake()),
        ("no square root", lambda: _adagrad("no_sqrt")),
        ("the sum rebound, not updated in place", lambda: _adagrad("not_in_place")),
        ("update before accumulating", lambda: _adagrad("update_first")),
        ("learning rate hard-coded to 0.1 (r3 objection 6)", lambda: _adagrad("hard_lr")),
        ("one sum for every tensor (r3 objection 6)", lambda: _adagrad("one_slot")),
        ("self.sums[self.params.index(p)] (r3 objection 6)", lambda: _adagrad("index")),
        ("an instance instead of the class", lambda: _adagrad("right")([torch.zeros(2, requires_grad=True)])),
    ],
    ("04", "q3"): [
        ("step / 100 (no cap, starts at 0)", lambda: (lambda s: s / 100)),
        ("always NaN (r3 objection 5)", lambda: (lambda s: math.nan)),
        ("NaN after step 0 (r3 objection 5)", lambda: (lambda s: 0.0 if s == 0 else math.nan)),
        ("cosine warmup (r3 objection 5)", lambda: (lambda s: 0.5 * (1 - math.cos(math.pi * min(s, 100) / 100)))),
        ("smoothstep warmup (r3 objection 5)", lambda: (lambda s: (lambda t: 3 * t**2 - 2 * t**3)(min(1.0, (s + 1) / 100)))),
        ("a 50-step warmup", lambda: (lambda s: min(1.0, (s + 1) / 50))),
        ("no cap", lambda: (lambda s: (s + 1) / 100)),
        ("decays after step 100", lambda: (lambda s: min(1.0, (s + 1) / 100) if s < 100 else 100 / (s + 1))),
        ("exponential warmup", lambda: (lambda s: min(1.0, 0.01 * 1.0476 ** s))),
        ("step-wise warmup", lambda: (lambda s: min(1.0, (s // 25 + 1) / 4))),
        ("a LambdaLR object instead of the function", lambda: _lambda_lr()),
    ],
    ("04", "q4"): [
        ("lr 2/(mu+L), beta the rate", lambda: EXERCISES[("04", "q4")].typical_mistake()),
        ("(beta, lr) swapped", lambda: (lambda mu, L: tuple(reversed(_heavy_ball(mu, L))))),
        ("beta = the rate, not its square", lambda: (lambda mu, L: (_heavy_ball(mu, L)[0], math.sqrt(_heavy_ball(mu, L)[1])))),
        ("lr = 1/L", lambda: (lambda mu, L: (1 / L, _heavy_ball(mu, L)[1]))),
        ("beta = 0.9 always", lambda: (lambda mu, L: (_heavy_ball(mu, L)[0], 0.9))),
        ("only the learning rate", lambda: (lambda mu, L: _heavy_ball(mu, L)[0])),
    ],
    ("04", "q5"): [
        ("small-lr approximation", lambda: (lambda lr, c, v: lr * v / (2 * c))),
        ("E[f] instead of E[x^2]", lambda: (lambda lr, c, v: c / 2 * lr * v / (c * (2 - lr * c)))),
        ("(2 + lr c)", lambda: (lambda lr, c, v: lr * v / (c * (2 + lr * c)))),
        ("the standard deviation", lambda: (lambda lr, c, v: math.sqrt(lr * v / (c * (2 - lr * c))))),
        ("(1 - lr c) not squared", lambda: (lambda lr, c, v: lr * v / c)),
        ("lr squared forgotten", lambda: (lambda lr, c, v: v / (c * (2 - lr * c)))),
    ],
    ("05", "q1"): [("square-root rule", lambda: 0.05 * math.sqrt(8)), ("divided by 8", lambda: 0.05 / 8),
                   ("unchanged", lambda: 0.05), ("times 512", lambda: 0.05 * 512), ("times 16", lambda: 0.8),
                   ("64/512", lambda: 0.05 * 64 / 512)],
    ("05", "q2"): [("128 (4x)", lambda: 128), ("8", lambda: 8), ("256", lambda: 256), ("1024", lambda: 1024),
                   ("2048", lambda: 2048), ("511", lambda: 511),
                   ("512.4, not a whole number (fresh review 05 #7)", lambda: 512.4),
                   ("511.6, not a whole number (fresh review 05 #7)", lambda: 511.6)],
    ("05", "q3"): [
        ("argmin without a tenth, NaN wins", lambda: EXERCISES[("05", "q3")].typical_mistake()),
        ("the point before the minimum (r4 objection 6)", lambda: _suggest_point_before),
        ("built-in min, no NaN handling (r4 objection 6)", lambda: _suggest_builtin_min),
        ("the minimum itself", lambda: _suggest_no_tenth),
        ("a hundredth", lambda: _suggest_hundredth),
        ("the steepest descent", lambda: _suggest_steepest),
        ("the right learning rate as text (fresh review 05 #8)", lambda: lambda lrs, s: str(_suggest_right(lrs, s))),
    ],
    ("05b", "q1"): [("64", lambda: 64), ("64 / 3", lambda: 64 / 3), ("3", lambda: 3), ("8", lambda: 8),
                    ("16", lambda: 16), ("4.5", lambda: 4.5)],
    ("05b", "q2"): [("243 (no halving)", lambda: 243), ("81 (retrained from scratch)", lambda: 81),
                    ("117", lambda: 117), ("39 (runs, not epochs)", lambda: 39), ("27", lambda: 27),
                    ("62", lambda: 62)],
    ("06", "q1"): [("precision (column sums)", lambda: _per_class("precision")),
                   ("percentages", lambda: _per_class("percent")), ("counts", lambda: _per_class("counts")),
                   ("divided by all samples", lambda: _per_class("total")),
                   ("keepdim broadcast (3x3)", lambda: _per_class("keepdim")),
                   ("the overall accuracy", lambda: _per_class("overall")), ("F1 per class", lambda: _per_class("f1")),
                   ("hard-coded for the 3x3 test matrix (fresh review 06 #7)",
                    lambda: lambda c: torch.tensor([50 / 55, 30 / 40, 10 / 20])),
                   ("three classes built in (fresh review 06 #7)", lambda: _per_class("three"))],
    ("06", "q2"): [
        ("left in training mode", lambda: _restore(evaluate=False)),
        ("torch.load(..., weights_only=False)", lambda: _restore(load="unsafe")),
        ("from torch import load; weights_only=False (r5 objection 14)", lambda: _restore(load="alias")),
        ("torch.serialization.load(..., weights_only=False) (r5 objection 14)", lambda: _restore(load="serialization")),
        ("weights never loaded", lambda: _restore(load_weights=False)),
        ("returns the state dict", lambda: _restore(return_state=True)),
    ],
    ("06", "q3"): [("780 (floor)", lambda: 780), ("5 (per epoch)", lambda: 5), ("157 (one epoch)", lambda: 157),
                   ("781.25", lambda: 5 * 20_000 / 128), ("786", lambda: 786), ("784", lambda: 784),
                   ("'785' as text (fresh review 06 #8)", lambda: "785")],
    ("07", "q1"): [
        ("summed loss over N (typical)", lambda: EXERCISES[("07", "q1")].typical_mistake()),
        ("the mean per shard", lambda: _rank_loss("mean")),
        ("the plain sum", lambda: _rank_loss("sum")),
        ("mean times the world size", lambda: _rank_loss("mean_times_world")),
        ("sum over the world size", lambda: _rank_loss("sum_over_world")),
        ("sum over the shard size", lambda: _rank_loss("sum_over_local")),
    ],
    ("07", "q2"): [("[2, 6] (no padding)", lambda: [2, 6]), ("[2, 6, 10]", lambda: [2, 6, 10]),
                   ("[2.5, 6, 0] (r5 objection 24)", lambda: [2.5, 6, 0]), ("'260' (r5 objection 24)", lambda: "260"),
                   ("wrong order", lambda: [6, 0, 2]), ("rank 1's share", lambda: [1, 5, 9]),
                   ("contiguous block", lambda: [6, 7, 8]),
                   ("a float array (fresh review 07b #2)", lambda: np.array([2.0, 5.0, 8.0, 0.0])),
                   ("a 2-D array (fresh review 07b #2)", lambda: np.array([[2, 5], [8, 0]])),
                   ("no padding, as a tensor (fresh review 07b #2)", lambda: torch.tensor([2, 5, 8]))],
    ("07", "q3"): [("0.2 (unchanged)", lambda: 0.2), ("0.8 (times the processes)", lambda: 0.8),
                   ("square-root rule", lambda: 0.2 * math.sqrt(2)), ("halved", lambda: 0.1),
                   ("0.05", lambda: 0.05), ("1.6", lambda: 1.6), ("'0.4' as text (fresh review 06/07 #8)", lambda: "0.4")],
}

ALSO_RIGHT = {  # right answers in another form, which the checker must accept too
    ("05b", "q1"): [("64 ** (1/3) = 3.9999999999999996 (r4 objection 7)", lambda: 64 ** (1 / 3))],
    ("02", "q3"): [("MultiLabelSoftMarginLoss for the tags (r1 objection 9)",
                    lambda: _loss_dict(tags=nn.MultiLabelSoftMarginLoss)),
                   ("SoftMarginLoss for spam (r1 objection 9)", lambda: _loss_dict(spam=nn.SoftMarginLoss)),
                   ("MultiMarginLoss for the digits (review 02 objection 9)",
                    lambda: _loss_dict(digit=nn.MultiMarginLoss)),
                   ("MultiLabelMarginLoss for the tags (review 02 objection 9)",
                    lambda: _loss_dict(tags=nn.MultiLabelMarginLoss))],
    ("04", "q1"): [("1/40", lambda: 1 / 40)],
    ("07", "q2"): [("a NumPy array (fresh review 07b #2)", lambda: np.array([2, 5, 8, 0])),
                   ("np.arange(12)[2::3] % 11 (fresh review 07b #2)", lambda: np.arange(12)[2::3] % 11),
                   ("a tensor (fresh review 07b #2)", lambda: torch.tensor([2, 5, 8, 0]))],
    ("06", "q2"): [("torch.load(path)['model'] with torch's default weights_only (True since 2.6; "
                    "requirements.txt asks for 2.10) (r5 objection 23)", lambda: _restore(load="default"))],
}


def _lambda_lr():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 100))


def _heavy_ball(mu, big):
    root = math.sqrt(big / mu)
    return (2 / (math.sqrt(big) + math.sqrt(mu))) ** 2, ((root - 1) / (root + 1)) ** 2


# ----------------------------------------------------------------------------------------------- the tests
def _numeric_forms(key):
    """The reference in other numeric types (a 0-d tensor, a NumPy scalar), when it is a number."""
    reference = EXERCISES[key].reference()
    if isinstance(reference, bool) or not isinstance(reference, (int, float)):
        return []
    return [("as a 0-d tensor", lambda: torch.tensor(float(reference), dtype=torch.float64)),
            ("as a NumPy float", lambda: np.float64(reference))]


def _checked(key, answer, time_limit):
    """The verdict on ``answer``, asserting that it is a verdict in words that came in time and left the
    learner's random generators and autograd as they were."""
    rng, grad = torch.random.get_rng_state(), torch.is_grad_enabled()
    started = time.monotonic()
    result = EXERCISES[key].check(answer, time_limit=time_limit)
    elapsed = time.monotonic() - started
    assert isinstance(result, CheckResult) and isinstance(result.message, str) and result.message.strip()
    assert result.status in ("correct", "incorrect", "not attempted")
    assert elapsed < time_limit + SLACK, f"{key}: the verdict took {elapsed:.1f} s"
    assert torch.is_grad_enabled() == grad, f"{key}: the check left autograd switched {'on' if grad else 'off'}"
    assert torch.equal(torch.random.get_rng_state(), rng), f"{key}: the check changed the learner's torch generator"
    return result


def _ids(cases):
    return [f"{nb}-{q}-{what}" for (nb, q), what, _ in cases]


WRONG = [(key, what, make) for key, answers in CATALOGUE.items() if key in EXERCISES for what, make in answers]
RIGHT = [(key, "its own solution", (lambda key=key: EXERCISES[key].reference())) for key in sorted(EXERCISES)]
RIGHT += [(key, what, make) for key, answers in ALSO_RIGHT.items() if key in EXERCISES for what, make in answers]
RIGHT += [(key, what, make) for key in sorted(EXERCISES) for what, make in _numeric_forms(key)]
HOSTILE_CASES = [(key, f"{what}", (make, limit)) for key in sorted(EXERCISES) for what, make, limit in HOSTILE]
# the answers that never return wait out their time limit: `make test` runs them, `make unit` leaves them out
HOSTILE_PARAMS = [pytest.param(*case, id=name, marks=[pytest.mark.slow] if case[2][1] == HANG_LIMIT else [])
                  for case, name in zip(HOSTILE_CASES, _ids(HOSTILE_CASES))]


def test_every_exercise_has_a_catalogue():
    missing = [f"{nb} {q}" for nb, q in EXERCISES if len(CATALOGUE.get((nb, q), [])) < 5]
    stale = [f"{nb} {q}" for nb, q in CATALOGUE if (nb, q) not in EXERCISES]
    assert not missing, f"add at least five plausible wrong answers to CATALOGUE for: {', '.join(missing)}"
    assert not stale, f"CATALOGUE lists exercises that no longer exist: {', '.join(stale)}"


@pytest.mark.parametrize("key,what,make", RIGHT, ids=_ids(RIGHT))
def test_right_answer_is_correct(key, what, make):
    result = _checked(key, make(), TIME_LIMIT)
    assert result.correct, f"{key[0]} {key[1]}, {what}: judged {result!r}"


@pytest.mark.parametrize("key,what,make", WRONG, ids=_ids(WRONG))
def test_wrong_answer_is_not_correct(key, what, make):
    result = _checked(key, make(), TIME_LIMIT)
    assert not result.correct, f"{key[0]} {key[1]}, {what}: judged {result!r}"


@pytest.mark.parametrize("key,what,make_and_limit", HOSTILE_PARAMS)
def test_hostile_answer_gets_a_verdict_in_words(key, what, make_and_limit):
    make, limit = make_and_limit
    result = _checked(key, make(), limit)
    assert not result.correct, f"{key[0]} {key[1]}, {what}: judged {result!r}"


# ----------------------------------------------------------------------------------------------- the guard itself
def _a_numeric_exercise():
    return EXERCISES[("03", "q3")]  # answer: a function of s


def test_ctrl_c_still_interrupts():
    def interrupted(s):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _a_numeric_exercise().check(interrupted)


def test_time_limit_off_the_main_thread():
    """Where no SIGALRM can be used (a thread, or Windows), the verdict still comes on time."""
    def slow(s):
        time.sleep(3)  # ends by itself, so the abandoned thread does not outlive the test by much
        return s * (1 - s)

    results = []
    worker = threading.Thread(target=lambda: results.append(_a_numeric_exercise().check(slow, time_limit=0.5)))
    started = time.monotonic()
    worker.start()
    worker.join(10)
    assert results and not results[0].correct and "did not finish" in results[0].message
    assert time.monotonic() - started < 3
    assert _a_numeric_exercise().check(lambda s: s * (1 - s)).correct


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="POSIX timers only")
def test_an_outer_timer_is_put_back():
    """A timer that was running before the check (pytest-timeout, say) keeps running after it."""
    previous = signal.signal(signal.SIGALRM, lambda *args: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100)
        assert not _a_numeric_exercise().check(_never_returns, time_limit=0.2).correct
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < left <= 100
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_as_number_gives_a_plain_finite_float():
    class Sneaky(float):  # a float whose == always says True
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    number = as_number(Sneaky(0.5))
    assert type(number) is float and number == 0.5 and number != 0.6
    assert as_number(torch.tensor([0.25])) == 0.25 and as_number(np.float32(2.0)) == 2.0
    assert as_number(np.array([0.25])) == 0.25 and as_number(np.array(0.5)) == 0.5  # one element, as documented
    for bad, says in (("0.4", "text"), (True, "not True"), (math.nan, "NaN"), (-math.inf, "infinite"),
                      (10**400, "too large"), (RaisingFloat(), "should be a number"), (torch.ones(2), "a number"),
                      (AlwaysEqual(), "should be a number")):
        with pytest.raises(Incorrect, match=says):
            as_number(bad)
    assert as_whole_number(64 ** (1 / 3)) == 4 and type(as_whole_number(np.int64(7))) is int
    with pytest.raises(Incorrect, match="whole number"):
        as_whole_number(4.5)


def test_call_answer_reports_what_the_function_raised():
    assert call_answer(lambda a, b: a + b, 1, 2) == 3
    with pytest.raises(Incorrect, match=r"f\(1, 'x'\) raised ZeroDivisionError"):
        call_answer(lambda a, b: 1 / 0, 1, "x", what="f")
    with pytest.raises(Incorrect, match="should be a function"):
        call_answer(3)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="POSIX timers only")
def test_time_spent_importing_does_not_count(tmp_path, monkeypatch):
    """A first check may import half of torch (torch._dynamo: seconds on a busy machine). The timer never
    breaks an import half-way, and the time spent in it is not held against the answer."""
    (tmp_path / "slow_module_for_the_check.py").write_text("import time\ntime.sleep(1.0)\nVALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_module_for_the_check", raising=False)

    def answer(s):
        import slow_module_for_the_check

        return s * (1 - s) * slow_module_for_the_check.VALUE

    result = _a_numeric_exercise().check(answer, time_limit=0.5)
    assert result.correct, result
    sys.modules.pop("slow_module_for_the_check", None)


# ----------------------------------------------------------------------------------------------- hints
def _code_lines(solution_code):
    """The solution's lines of code that say something: no blank lines, comments, imports or ``answer = name``."""
    lines = []
    for line in solution_code.splitlines():
        code = line.split("#")[0].strip()
        if code and not code.startswith(("import ", "from ")) and not re.fullmatch(r"answer\s*=\s*\w+", code):
            lines.append(code.removeprefix("answer =").strip())
    return lines


@pytest.mark.parametrize("key", sorted(EXERCISES), ids=[f"{nb}-{q}" for nb, q in sorted(EXERCISES)])
def test_the_hint_does_not_give_the_solution_away(key):
    """r2 objection 15: ``hint()`` printed the whole solution. A hint may name a function or quote one line, but
    it never holds the solution's answer expression or more than half of the solution's lines of code (compared
    without spaces)."""
    exercise = EXERCISES[key]
    hint = re.sub(r"\s+", "", exercise.hint_text)
    lines = _code_lines(exercise.solution_code)
    quoted = [line for line in lines if re.sub(r"\s+", "", line) in hint]
    assert lines, f"{key}: the solution has no code to compare with"
    answer = re.findall(r"^answer\s*=\s*(.+?)\s*(?:#.*)?$", exercise.solution_code, flags=re.MULTILINE)
    given = [expression for expression in answer if not re.fullmatch(r"\w+", expression)
             and re.sub(r"\s+", "", expression) in hint]
    assert not given, f"{key}: the hint holds the answer itself: {given}"
    assert 2 * len(quoted) <= len(lines), f"{key}: the hint quotes {len(quoted)} of the solution's {len(lines)} " \
                                          f"lines: {quoted}"

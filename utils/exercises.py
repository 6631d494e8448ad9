"""Exercises with checkers, in the style of ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.

Explained in notebooks/06_putting_it_all_together.ipynb; every notebook 01-06 ends with at least two.
In a notebook::

    ex = exercises_for("01")
    answer = ...            # the learner replaces ... with their answer
    ex.q1.check(answer)     # correct / incorrect, with a reason / not yet attempted
    ex.q1.hint()
    ex.q1.solution()

A checker never reads notebook globals: the answer is passed in. Each exercise also carries a
``reference`` (builds a correct answer) and a ``typical_mistake`` (builds a wrong one) so the tests can
prove that every checker accepts the one and rejects the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

NOT_ANSWERED = (None, Ellipsis)


class Incorrect(Exception):
    """Raised by a checker with the reason the answer is wrong (shown to the learner)."""


@dataclass
class CheckResult:
    status: str  # "correct", "incorrect" or "not attempted"
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def __repr__(self) -> str:
        mark = {"correct": "Correct", "incorrect": "Incorrect", "not attempted": "Not yet attempted"}[self.status]
        return f"{mark}: {self.message}"

    def _repr_markdown_(self) -> str:
        colour = {"correct": "green", "incorrect": "firebrick", "not attempted": "gray"}[self.status]
        return f'<span style="color:{colour}">**{repr(self).split(":", 1)[0]}**</span>: {self.message}'


@dataclass
class Exercise:
    """One exercise: ``checker(answer)`` raises ``Incorrect(reason)`` for a wrong answer."""

    name: str
    question: str
    checker: Callable[[Any], None]
    hint_text: str
    solution_text: str
    reference: Callable[[], Any]
    typical_mistake: Callable[[], Any]
    praise: str = "well done."

    def check(self, answer: Any = None) -> CheckResult:
        if any(answer is marker for marker in NOT_ANSWERED):
            return CheckResult("not attempted", "replace the `...` with your answer and run the cell again.")
        try:
            self.checker(answer)
        except Incorrect as reason:
            return CheckResult("incorrect", str(reason))
        return CheckResult("correct", self.praise)

    def hint(self) -> None:
        print(f"Hint ({self.name}): {self.hint_text}")

    def solution(self) -> None:
        print(f"Solution ({self.name}):\n{self.solution_text}")


_REGISTRY: dict[str, dict[str, Exercise]] = {}


def register(notebook: str, exercise: Exercise) -> Exercise:
    _REGISTRY.setdefault(notebook, {})[exercise.name] = exercise
    return exercise


def exercises_for(notebook: str) -> SimpleNamespace:
    """The exercises of one notebook (``"01"`` ... ``"06"``) as attributes: ``ex.q1``, ``ex.q2`` ..."""
    if notebook not in _REGISTRY:
        raise ValueError(f"no exercises for notebook {notebook!r}; known: {', '.join(sorted(_REGISTRY))}")
    return SimpleNamespace(**_REGISTRY[notebook])


def all_exercises() -> list[tuple[str, Exercise]]:
    return [(nb, ex) for nb in sorted(_REGISTRY) for ex in _REGISTRY[nb].values()]


# ----------------------------------------------------------------------------------------------- helpers for checkers
def as_number(value: Any, what: str = "the answer") -> float:
    """``value`` as a float, or ``Incorrect`` saying a number was expected."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Incorrect(f"{what} should be a number, got {type(value).__name__}") from None


def expect_close(value: Any, expected: float, *, what: str, rel: float = 1e-3, abs_tol: float = 1e-6) -> None:
    """Raise ``Incorrect`` unless ``value`` is a number close to ``expected``."""
    number = as_number(value, what)
    if not math.isclose(number, expected, rel_tol=rel, abs_tol=abs_tol):
        raise Incorrect(f"{what} is {number:.6g}; that is not it (check the hint).")


# Each notebook's exercises live in its own section below. Keep sections independent.

# ===== notebook 01 =====
def _nb01_train_step(model, x, y, loss_fn, optimizer):
    """Reference for 01 q1: one optimizer step on the batch (x, y); returns the batch loss as a Python float."""
    logits = model(x)
    loss = loss_fn(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _nb01_train_step_mistake(model, x, y, loss_fn, optimizer):
    """Typical mistake for 01 q1: no zero_grad (gradients pile up) and the loss tensor returned (graph kept)."""
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def _nb01_check_train_step(answer: Any) -> None:
    import torch
    from torch import nn

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = train_step`), not the result of calling it.")
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(8, 4, generator=gen), torch.randint(0, 3, (8,), generator=gen)) for _ in range(3)]
    yours, ref = nn.Linear(4, 3), nn.Linear(4, 3)
    with torch.no_grad():
        for p in (*yours.parameters(), *ref.parameters()):
            p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape))
    opt_yours = torch.optim.SGD(yours.parameters(), lr=0.5)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.5)
    loss_fn = nn.CrossEntropyLoss()
    for i, (x, y) in enumerate(batches, start=1):
        expected = _nb01_train_step(ref, x, y, loss_fn, opt_ref)
        before = [p.detach().clone() for p in yours.parameters()]
        try:
            got = answer(yours, x, y, loss_fn, opt_yours)
        except Exception as err:  # the learner's code may fail in any way: report it, don't crash
            raise Incorrect(f"on batch {i} your function raised {type(err).__name__}: {err}") from None
        if all(torch.equal(a, b) for a, b in zip(before, yours.parameters(), strict=True)):
            raise Incorrect("the parameters did not change: the step needs loss.backward() and then optimizer.step().")
        if not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(yours.parameters(), ref.parameters(), strict=True)):
            if i == 1:
                raise Incorrect("after one step the parameters differ from forward -> loss -> backward -> step "
                                "with the optimizer you were given.")
            raise Incorrect(f"step 1 was right, step {i} was not: the gradients of the earlier batches were still in "
                            ".grad. Call optimizer.zero_grad() before loss.backward().")
        if isinstance(got, torch.Tensor):
            raise Incorrect("you return a tensor (it keeps the whole graph alive): return loss.item(), a Python float.")
        if not isinstance(got, (int, float)) or not math.isclose(got, expected, rel_tol=1e-5):
            raise Incorrect(f"return the batch loss computed before the update ({expected:.4f} on batch {i}), "
                            f"got {got!r}.")


register("01", Exercise(
    name="q1",
    question="Write train_step(model, x, y, loss_fn, optimizer): one optimizer step on the batch (x, y) that "
             "returns the batch loss as a Python float.",
    checker=_nb01_check_train_step,
    hint_text="Five lines: forward (model(x)), loss (loss_fn(logits, y)), optimizer.zero_grad(), loss.backward(), "
              "optimizer.step(); then return loss.item().",
    solution_text="def train_step(model, x, y, loss_fn, optimizer):\n"
                  "    loss = loss_fn(model(x), y)\n"
                  "    optimizer.zero_grad()\n"
                  "    loss.backward()\n"
                  "    optimizer.step()\n"
                  "    return loss.item()\n\n"
                  "answer = train_step",
    reference=lambda: _nb01_train_step,
    typical_mistake=lambda: _nb01_train_step_mistake,
    praise="three steps in a row match torch.optim.SGD exactly, and you hand back a number, not a graph.",
))


def _nb01_evaluate(model, loader, loss_fn, device):
    """Reference for 01 q2: loss and accuracy averaged over samples, in eval mode, without gradients."""
    import torch

    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total_loss += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
    model.train()
    return total_loss / seen, correct / seen


def _nb01_evaluate_mistake(model, loader, loss_fn, device):
    """Typical mistake for 01 q2: the mean of the batch means (the last, smaller batch weighs as much as a full one)."""
    import torch

    model.eval()
    losses, accuracies = [], []
    with torch.no_grad():
        for x, y in loader:
            logits = model(x.to(device))
            losses.append(loss_fn(logits, y.to(device)).item())
            accuracies.append((logits.argmax(dim=1) == y.to(device)).float().mean().item())
    model.train()
    return sum(losses) / len(losses), sum(accuracies) / len(accuracies)


def _nb01_check_evaluate(answer: Any) -> None:
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    from .data import TensorLoader
    from .training import evaluate

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = evaluate`), not the result of calling it.")
    gen = torch.Generator().manual_seed(3)
    data = TensorDataset(torch.randn(50, 6, generator=gen), torch.randint(0, 3, (50,), generator=gen))
    loader = TensorLoader(data, batch_size=16)  # batches of 16, 16, 16 and 2: per-batch means are biased
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
    loss_fn = nn.CrossEntropyLoss()
    expected = evaluate(model, loader, loss_fn, torch.device("cpu"))
    seen = []  # (training mode, gradients on) at every forward pass
    model.register_forward_hook(lambda module, inputs, output: seen.append((module.training, torch.is_grad_enabled())))
    model.train()
    try:
        got = answer(model, loader, loss_fn, torch.device("cpu"))
    except Exception as err:
        raise Incorrect(f"your function raised {type(err).__name__}: {err}") from None
    left_in_training_mode = model.training
    if not seen:
        raise Incorrect("the model was never called: loop over the loader and compute model(x).")
    if any(training for training, _ in seen):
        raise Incorrect("the model was in training mode (dropout on, random numbers): call model.eval() first.")
    if any(grad for _, grad in seen):
        raise Incorrect("gradients were being tracked: wrap the loop in `with torch.no_grad():`.")
    try:
        loss, accuracy = (float(v) for v in got)
    except (TypeError, ValueError):
        raise Incorrect(f"return two numbers, (loss, accuracy); got {got!r}") from None
    per_batch = _nb01_evaluate_mistake(model, loader, loss_fn, torch.device("cpu"))
    for name, value, right, wrong in (("loss", loss, expected.loss, per_batch[0]),
                                      ("accuracy", accuracy, expected.accuracy, per_batch[1])):
        if math.isclose(value, wrong, rel_tol=1e-6) and not math.isclose(value, right, rel_tol=1e-6):
            raise Incorrect(f"your {name} is the mean of the batch means; the last batch has 2 samples, not 16. "
                            "Weight each batch by its size: sum loss.item() * len(y), then divide by the count.")
        if not math.isclose(value, right, rel_tol=1e-5):
            raise Incorrect(f"your {name} is {value:.6g}, the per-sample average is {right:.6g}.")
    if not left_in_training_mode:
        raise Incorrect("the numbers are right, but the model stayed in eval mode: call model.train() at the end, "
                        "or the next training epoch runs without dropout.")


register("01", Exercise(
    name="q2",
    question="Write evaluate(model, loader, loss_fn, device) -> (loss, accuracy), both averaged per sample, "
             "in eval mode and without gradients, leaving the model in training mode afterwards.",
    checker=_nb01_check_evaluate,
    hint_text="model.eval(); with torch.no_grad(): loop over the batches adding loss.item() * len(y) and the number "
              "of correct predictions; divide both by the number of samples; model.train() at the end.",
    solution_text="def evaluate(model, loader, loss_fn, device):\n"
                  "    model.eval()\n"
                  "    total_loss, correct, seen = 0.0, 0, 0\n"
                  "    with torch.no_grad():\n"
                  "        for x, y in loader:\n"
                  "            x, y = x.to(device), y.to(device)\n"
                  "            logits = model(x)\n"
                  "            total_loss += loss_fn(logits, y).item() * len(y)\n"
                  "            correct += (logits.argmax(dim=1) == y).sum().item()\n"
                  "            seen += len(y)\n"
                  "    model.train()\n"
                  "    return total_loss / seen, correct / seen\n\n"
                  "answer = evaluate",
    reference=lambda: _nb01_evaluate,
    typical_mistake=lambda: _nb01_evaluate_mistake,
    praise="per-sample averages, dropout off, no graph, and the model is back in training mode.",
))


def _nb01_check_steps(answer: Any) -> None:
    number = as_number(answer)
    if not number.is_integer():
        raise Incorrect(f"{number:g} is not a whole number of steps: every batch, full or not, is one step.")
    if number == 843:
        raise Incorrect("843 full batches hold 53,952 images; the last 48 make one more, smaller batch (844).")
    if number != 844:
        raise Incorrect(f"{number:g} steps is not it: divide 54,000 by 64 and think about the remainder.")


register("01", Exercise(
    name="q3",
    question="How many optimizer steps does one epoch over FashionMNIST's 54,000 training images take at "
             "batch size 64 (utils.TensorLoader keeps the last, smaller batch)?",
    checker=_nb01_check_steps,
    hint_text="54,000 / 64 = 843.75: how many batches, counting the last one that is not full?",
    solution_text="math.ceil(54_000 / 64) = 844: 843 batches of 64 and one of 48. len(loader) says the same.",
    reference=lambda: 844,
    typical_mistake=lambda: 843,
    praise="844 = ceil(54,000 / 64); the last batch holds 48 images, which is why losses are averaged per sample.",
))
# ===== end notebook 01 =====

# ===== notebook 02 =====
def _nb02_stable_cross_entropy(logits, targets):
    """Reference for 02 q1: log-sum-exp minus the correct logit, averaged over samples."""
    import torch

    return (torch.logsumexp(logits, dim=1) - logits.gather(1, targets.unsqueeze(1)).squeeze(1)).mean()


def _nb02_naive_cross_entropy(logits, targets):
    """Typical mistake for 02 q1: softmax written with a bare exp, which overflows for large logits."""
    import torch

    exp = torch.exp(logits)
    probs = exp / exp.sum(dim=1, keepdim=True)
    return -torch.log(probs[torch.arange(len(targets)), targets]).mean()


def _nb02_check_cross_entropy(answer: Any) -> None:
    import torch
    import torch.nn.functional as F

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = my_cross_entropy`), not the result of calling it.")
    gen = torch.Generator().manual_seed(2)
    cases = [
        ("6 samples, 4 classes", torch.randn(6, 4, generator=gen), torch.tensor([0, 3, 1, 1, 2, 0])),
        ("5 samples, 10 classes", 3 * torch.randn(5, 10, generator=gen), torch.tensor([9, 0, 4, 4, 7])),
        ("huge logits (around 1000)", torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 995.0]]), torch.tensor([2, 2])),
    ]
    for what, logits, targets in cases:
        logits = logits.clone().requires_grad_()
        try:
            got = answer(logits, targets.clone())
        except Exception as err:  # the learner's code may fail in any way: report it, don't crash
            raise Incorrect(f"on {what} your function raised {type(err).__name__}: {err}") from None
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            raise Incorrect("return one number as a tensor (the mean over the samples), e.g. `losses.mean()`.")
        if not got.requires_grad:
            raise Incorrect("no gradient flows back to the logits: stay in torch (no `.item()`, numpy or `.detach()`).")
        expected = F.cross_entropy(logits.detach(), targets).item()
        value = got.detach().float().item()
        if not math.isfinite(value):
            raise Incorrect(f"on {what} you get {value}: exp overflowed. Use torch.logsumexp (it subtracts the max).")
        if not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-4):
            raise Incorrect(f"on {what} you get {value:.4f} but nn.CrossEntropyLoss gives {expected:.4f} "
                            "(normalise over the classes, dim=1, and average over the samples).")


register("02", Exercise(
    name="q1",
    question="Write my_cross_entropy(logits, targets): the mean cross-entropy from logits (N, C) and class "
             "indices (N,), without F.cross_entropy or softmax, and finite even for logits around 1000.",
    checker=_nb02_check_cross_entropy,
    hint_text="The loss of one sample is log(sum_k exp(z_k)) - z_y. torch.logsumexp(logits, dim=1) computes the "
              "first term stably; logits[torch.arange(N), targets] picks z_y.",
    solution_text="def my_cross_entropy(logits, targets):\n"
                  "    correct = logits[torch.arange(len(targets)), targets]\n"
                  "    return (torch.logsumexp(logits, dim=1) - correct).mean()\n\n"
                  "answer = my_cross_entropy",
    reference=lambda: _nb02_stable_cross_entropy,
    typical_mistake=lambda: _nb02_naive_cross_entropy,
    praise="your cross-entropy matches nn.CrossEntropyLoss, lets gradients through and survives huge logits.",
))

_NB02_LOSSES = [0.2, 1.0, 2.0, 0.4]
_NB02_CLASSES = [0, 1, 1, 0]
_NB02_WEIGHTS = [1.0, 4.0]


def _nb02_weighted(divide_by_samples: bool) -> float:
    w = [_NB02_WEIGHTS[c] for c in _NB02_CLASSES]
    total = sum(wi * li for wi, li in zip(w, _NB02_LOSSES, strict=True))
    return total / (len(w) if divide_by_samples else sum(w))


def _nb02_check_weighted_mean(answer: Any) -> None:
    plain_mean = sum(_NB02_LOSSES) / len(_NB02_LOSSES)
    number = as_number(answer)
    if math.isclose(number, _nb02_weighted(divide_by_samples=True), rel_tol=1e-3):
        raise Incorrect("you divided the weighted sum by the number of samples (4). With weights, 'mean' divides "
                        "by the sum of the weights of the samples' classes.")
    if math.isclose(number, plain_mean, rel_tol=1e-3):
        raise Incorrect("that is the unweighted mean: multiply each loss by the weight of its sample's class first.")
    expect_close(number, _nb02_weighted(divide_by_samples=False), what="your weighted mean")


register("02", Exercise(
    name="q2",
    question="Four samples have per-sample losses [0.2, 1.0, 2.0, 0.4] and classes [0, 1, 1, 0]; the class weights "
             "are [1.0, 4.0]. What does nn.CrossEntropyLoss(weight=...) with reduction='mean' report?",
    checker=_nb02_check_weighted_mean,
    hint_text="Each loss is multiplied by the weight of its sample's class; 'mean' then divides by the sum of "
              "those weights, not by the number of samples.",
    solution_text="w = [1.0, 4.0, 4.0, 1.0]  (the weight of each sample's class)\n"
                  "(1.0*0.2 + 4.0*1.0 + 4.0*2.0 + 1.0*0.4) / (1.0 + 4.0 + 4.0 + 1.0) = 12.6 / 10 = 1.26",
    reference=lambda: _nb02_weighted(divide_by_samples=False),
    typical_mistake=lambda: _nb02_weighted(divide_by_samples=True),
    praise="1.26: the weights' sum is the denominator, so uniform weights change nothing.",
))

_NB02_TASKS = {
    "price": "predict a flat's price in euros",
    "spam": "decide whether an e-mail is spam",
    "tags": "tag a photo with any of 20 labels (beach, dog, sunset, ...)",
    "digit": "recognise which of the 10 digits an 8x8 image shows",
}
_NB02_ACCEPTED = {
    "price": {"MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss"},
    "spam": {"BCEWithLogitsLoss"},
    "tags": {"BCEWithLogitsLoss"},
    "digit": {"CrossEntropyLoss"},
}


def _nb02_loss_name(value: Any) -> str:
    """'CrossEntropyLoss' from nn.CrossEntropyLoss, nn.CrossEntropyLoss() or the string itself."""
    if isinstance(value, str):
        return value.strip().removeprefix("torch.nn.").removeprefix("nn.").removesuffix("()")
    if isinstance(value, type):
        return value.__name__
    return type(value).__name__


def _nb02_check_loss_choice(answer: Any) -> None:
    if not isinstance(answer, dict):
        raise Incorrect(f"the answer should be a dict with the keys {sorted(_NB02_TASKS)}, got {type(answer).__name__}")
    missing = sorted(set(_NB02_TASKS) - set(answer))
    if missing:
        raise Incorrect(f"the dict lacks the key(s) {missing}")
    for key, accepted in _NB02_ACCEPTED.items():
        name = _nb02_loss_name(answer[key])
        if name in accepted:
            continue
        if name == "BCELoss":
            raise Incorrect(f"{key}: BCELoss takes probabilities and breaks at extreme logits; the model outputs "
                            "logits, so use the loss that takes logits.")
        if key == "digit" and name == "BCEWithLogitsLoss":
            raise Incorrect("digit: exactly one of the 10 classes is right, so the classes compete: that is softmax "
                            "cross-entropy, not 10 independent yes/no questions.")
        if key == "digit" and name == "NLLLoss":
            raise Incorrect("digit: NLLLoss expects log-probabilities; the model outputs logits, so use "
                            "CrossEntropyLoss (LogSoftmax and NLLLoss in one).")
        if key == "tags" and name == "CrossEntropyLoss":
            raise Incorrect("tags: a photo can carry several tags at once; softmax would make the tags compete.")
        raise Incorrect(f"{key} ({_NB02_TASKS[key]}): {name!r} is not a loss for this task; see the table.")


register("02", Exercise(
    name="q3",
    question="The model outputs logits (or raw numbers). Choose a torch.nn loss for each task: "
             + "; ".join(f"{k!r}: {v}" for k, v in _NB02_TASKS.items()) + ". Answer with a dict of loss classes.",
    checker=_nb02_check_loss_choice,
    hint_text="Ask: is the output a number, one yes/no, several independent yes/no, or exactly one of C classes?",
    solution_text="answer = {\n"
                  "    'price': nn.HuberLoss,          # or MSELoss / L1Loss: a real number\n"
                  "    'spam': nn.BCEWithLogitsLoss,   # one yes/no question, one logit\n"
                  "    'tags': nn.BCEWithLogitsLoss,   # 20 independent yes/no questions, 20 logits\n"
                  "    'digit': nn.CrossEntropyLoss,   # exactly one of 10 classes, 10 logits\n"
                  "}",
    reference=lambda: {"price": "MSELoss", "spam": "BCEWithLogitsLoss", "tags": "BCEWithLogitsLoss",
                       "digit": "CrossEntropyLoss"},
    typical_mistake=lambda: {"price": "MSELoss", "spam": "BCEWithLogitsLoss", "tags": "BCEWithLogitsLoss",
                             "digit": "BCEWithLogitsLoss"},
    praise="each task got the loss that matches what its output means.",
))


def _nb02_check_bce_start(answer: Any) -> None:
    number = as_number(answer)
    if math.isclose(number, math.log(10), rel_tol=0.02):
        raise Incorrect("ln 10 is where CrossEntropyLoss starts. BCEWithLogitsLoss asks 10 separate yes/no "
                        "questions; what is the loss of one of them when its logit is 0?")
    expect_close(number, math.log(2), what="your expected starting loss", rel=0.02)


register("02", Exercise(
    name="q4",
    question="A fresh 10-class model (logits close to 0) is trained, wrongly, with nn.BCEWithLogitsLoss() on "
             "one-hot targets. About which loss does it start at? Give a number.",
    checker=_nb02_check_bce_start,
    hint_text="sigmoid(0) = 0.5. Every one of the N x 10 entries, target 1 or 0, then costs the same.",
    solution_text="Each entry costs -log(0.5) = ln 2, whatever its target, and the mean of equal numbers is that "
                  "number: about 0.693 (the notebook checks it on a fresh utils.MLP).\n\nanswer = math.log(2)",
    reference=lambda: math.log(2),
    typical_mistake=lambda: math.log(10),
    praise="ln 2: with BCE, every output is its own coin flip at the start.",
))
# ===== end notebook 02 =====

# ===== notebook 03 =====
# q1: a gradient by hand; q2: .grad after two backward calls; q3: sigmoid's local derivative for the Scalar engine.
_NB03_W, _NB03_B, _NB03_X, _NB03_Y = 0.5, 0.1, 3.0, 2.0  # q1: y_hat = w x + b, L = (y_hat - y)^2
_NB03_X0 = 3.0  # q2: x = 3, y = x**2 + 2 * x, backward twice


def _nb03_number(answer: Any, what: str) -> float:
    """The answer as a float (a Python number or a one-element tensor), or ``Incorrect``."""
    try:
        return float(answer)
    except (TypeError, ValueError, RuntimeError):
        raise Incorrect(f"{what} should be a number, got {type(answer).__name__}") from None


def _nb03_q1_gradient(chain_rule: bool = True) -> float:
    """dL/dw for q1; ``chain_rule=False`` stops at dL/dy_hat (the typical slip)."""
    outer = 2 * (_NB03_W * _NB03_X + _NB03_B - _NB03_Y)  # dL/dy_hat = 2 (y_hat - y)
    return outer * _NB03_X if chain_rule else outer


def _nb03_check_q1(answer: Any) -> None:
    value = _nb03_number(answer, "dL/dw")
    right = _nb03_q1_gradient()
    if math.isclose(value, _nb03_q1_gradient(chain_rule=False), rel_tol=1e-3):
        raise Incorrect("that is dL/dy_hat (and also dL/db). The chain rule multiplies it by dy_hat/dw = x.")
    if math.isclose(value, right / 2, rel_tol=1e-3):
        raise Incorrect("off by a factor of 2: the derivative of u**2 is 2u.")
    if math.isclose(value, -right, rel_tol=1e-3):
        raise Incorrect("right size, wrong sign: is the prediction above or below the target?")
    expect_close(value, right, what="your dL/dw")


register("03", Exercise(
    name="q1",
    question="y_hat = w*x + b, L = (y_hat - y)**2. For w = 0.5, b = 0.1, x = 3, y = 2, what is dL/dw?",
    checker=_nb03_check_q1,
    hint_text="Compute y_hat first. Then dL/dw = dL/dy_hat * dy_hat/dw (chain rule). You can confirm with "
              "autograd: w = torch.tensor(0.5, requires_grad=True), build L, call L.backward(), read w.grad.",
    solution_text="y_hat = 0.5 * 3 + 0.1 = 1.6, so y_hat - y = -0.4.\n"
                  "dL/dy_hat = 2 * (y_hat - y) = -0.8 and dy_hat/dw = x = 3.\n"
                  "dL/dw = -0.8 * 3 = -2.4\n\n"
                  "answer = -2.4",
    reference=_nb03_q1_gradient,
    typical_mistake=lambda: _nb03_q1_gradient(chain_rule=False),
    praise="dL/dw = 2 (y_hat - y) * x = -2.4: the outer derivative times the inner one.",
))


def _nb03_q2_grad(backward_calls: int) -> float:
    """x.grad after ``backward_calls`` forward+backward passes of y = x**2 + 2x at x = 3, never zeroed."""
    return backward_calls * (2 * _NB03_X0 + 2)


def _nb03_check_q2(answer: Any) -> None:
    value = _nb03_number(answer, "x.grad")
    if math.isclose(value, _nb03_q2_grad(1), rel_tol=1e-3):
        raise Incorrect("that is the gradient of one backward call. The second call does not overwrite .grad.")
    if math.isclose(value, _NB03_X0**2 + 2 * _NB03_X0, rel_tol=1e-3):
        raise Incorrect("that is the value of y, not its gradient with respect to x.")
    expect_close(value, _nb03_q2_grad(2), what="your x.grad")


register("03", Exercise(
    name="q2",
    question="x = torch.tensor(3.0, requires_grad=True); two times: y = x**2 + 2*x; y.backward(). "
             "What is x.grad afterwards?",
    checker=_nb03_check_q2,
    hint_text="dy/dx = 2x + 2. Each loop iteration builds a new graph, so the second backward() is allowed. "
              "Does it replace .grad or add to it (section 3)?",
    solution_text="dy/dx = 2x + 2 = 8 at x = 3. backward() adds into .grad and nothing zeroes it in between,\n"
                  "so after two calls x.grad = 8 + 8 = 16.\n\n"
                  "answer = 16",
    reference=lambda: _nb03_q2_grad(2),
    typical_mistake=lambda: _nb03_q2_grad(1),
    praise=".grad accumulates: 8 + 8 = 16. That is why training loops call zero_grad().",
))


def _nb03_sigmoid(u: float) -> float:
    return 1.0 / (1.0 + math.exp(-u))


def _nb03_check_q3(answer: Any) -> None:
    if not callable(answer):
        raise Incorrect("answer with a function of s, e.g. `answer = lambda s: ...`")
    for s in (0.1, 0.3, 0.5, 0.8, 0.95):
        try:
            got = float(answer(s))
        except Exception as err:  # the learner's code may fail in any way: report it, don't crash
            raise Incorrect(f"calling your function with s = {s} raised {type(err).__name__}: {err}") from None
        if math.isclose(got, s * (1 - s), rel_tol=1e-6, abs_tol=1e-12):
            continue
        again = _nb03_sigmoid(s)
        if math.isclose(got, again * (1 - again), rel_tol=1e-6):
            raise Incorrect("your function applies the sigmoid again, but s already is the sigmoid's output.")
        raise Incorrect(f"for s = {s} your function returns {got:.6g}. Differentiate 1 / (1 + exp(-u)) and "
                        "write the result using s.")


register("03", Exercise(
    name="q3",
    question="For s = sigmoid(u) = 1 / (1 + exp(-u)), give a function of the output s that returns ds/du.",
    checker=_nb03_check_q3,
    hint_text="d/du (1 + e^-u)^-1 = e^-u / (1 + e^-u)^2. Split it into 1 / (1 + e^-u) times e^-u / (1 + e^-u), "
              "and write both factors with s.",
    solution_text="ds/du = e^-u / (1 + e^-u)^2 = s * (1 - s), because 1 / (1 + e^-u) = s and e^-u / (1 + e^-u) "
                  "= 1 - s.\n\n"
                  "answer = lambda s: s * (1 - s)\n\n"
                  "# in the engine:\n"
                  "def sigmoid(self):\n"
                  "    s = 1 / (1 + math.exp(-self.data))\n"
                  "    return Scalar(s, (self,), (s * (1 - s),), \"sigmoid\")",
    reference=lambda: (lambda s: s * (1 - s)),
    typical_mistake=lambda: (lambda s: _nb03_sigmoid(s) * (1 - _nb03_sigmoid(s))),
    praise="ds/du = s (1 - s): the backward pass reuses the forward pass's output, no exp needed.",
))
# ===== end notebook 03 =====

# ===== notebook 04 =====
_NB04_CURVATURES = (1.0, 50.0)  # utils.optim2d's quadratic f = (x^2 + 50 y^2) / 2


def _nb04_check_stable_lr(answer: Any) -> None:
    small, big = _NB04_CURVATURES
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise Incorrect(f"the answer should be a number (a learning rate), got {type(answer).__name__}") from None
    if math.isclose(value, 2 / small, rel_tol=0.02):
        raise Incorrect("2 / 1 uses the flat direction. Gradient descent diverges as soon as ANY direction overshoots: "
                        "the steep one (curvature 50) decides.")
    if math.isclose(value, 1 / big, rel_tol=0.02):
        raise Incorrect("1 / 50 is the learning rate that lands exactly on the valley floor in one step along y. "
                        "Overshooting is allowed as long as each bounce is smaller than the last: how far can you go?")
    expect_close(value, 2 / big, what="your learning rate", rel=0.02)


register("04", Exercise(
    name="q1",
    question="Gradient descent on utils.optim2d's quadratic f(x, y) = (x^2 + 50 y^2) / 2: what is the largest "
             "learning rate for which it still converges (the stability limit)?",
    checker=_nb04_check_stable_lr,
    hint_text="Along y alone, one step maps y to (1 - lr * 50) * y. It shrinks (even while flipping sign) as long "
              "as |1 - lr * 50| < 1. The x direction, with curvature 1, allows a much larger lr; the smaller "
              "limit wins.",
    solution_text="|1 - lr * lambda| < 1 for every curvature lambda, i.e. lr < 2 / lambda_max = 2 / 50.\n\n"
                  "answer = 2 / 50   # 0.04; the notebook checks 0.99x (converges) and 1.01x (diverges)",
    reference=lambda: 2 / 50,
    typical_mistake=lambda: 2 / 1,
    praise="lr < 2 / (largest curvature). The steepest direction sets the speed limit for every direction, which "
           "is why ill-conditioned problems are slow for plain gradient descent.",
))


class _Nb04Adagrad:
    """Reference for 04 q2: Adagrad, with the interface of the notebook's hand-written optimizers."""

    def __init__(self, params, lr=0.01, eps=1e-10):
        self.params, self.lr, self.eps = list(params), lr, eps
        self.state = [{} for _ in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        import torch

        with torch.no_grad():
            for p, state in zip(self.params, self.state):
                if p.grad is None:
                    continue
                state["sum"] = state.get("sum", 0) + p.grad**2  # every squared gradient so far, never forgotten
                p -= self.lr * p.grad / (state["sum"].sqrt() + self.eps)


class _Nb04AdagradMistake(_Nb04Adagrad):
    """Typical mistake for 04 q2: a running average of squared gradients (that is RMSprop, not Adagrad)."""

    def step(self):
        import torch

        with torch.no_grad():
            for p, state in zip(self.params, self.state):
                if p.grad is None:
                    continue
                state["sum"] = 0.9 * state.get("sum", 0) + 0.1 * p.grad**2
                p -= self.lr * p.grad / (state["sum"].sqrt() + self.eps)


def _nb04_check_adagrad(answer: Any) -> None:
    import torch

    if not isinstance(answer, type):
        raise Incorrect("pass the class itself (`answer = Adagrad`), not an instance of it.")
    gen = torch.Generator().manual_seed(4)
    x, y = torch.randn(32, 5, generator=gen), torch.randn(32, generator=gen)
    start = torch.randn(5, generator=gen)
    w_yours, w_ref = start.clone().requires_grad_(), start.clone().requires_grad_()
    try:
        yours = answer([w_yours], lr=0.1)
    except Exception as err:
        raise Incorrect(f"Adagrad([w], lr=0.1) raised {type(err).__name__}: {err}") from None
    reference = torch.optim.Adagrad([w_ref], lr=0.1)
    for i in range(1, 6):
        before = w_yours.detach().clone()
        for w, opt in ((w_yours, yours), (w_ref, reference)):
            try:
                opt.zero_grad()
                ((x @ w - y) ** 2).mean().backward()
                opt.step()
            except Exception as err:
                raise Incorrect(f"step {i} raised {type(err).__name__}: {err}") from None
        if torch.equal(before, w_yours.detach()):
            raise Incorrect(f"step {i} did not change the parameters: step() should update p in place "
                            "(p -= ..., inside torch.no_grad()).")
        if not torch.allclose(w_yours.detach(), w_ref.detach(), rtol=1e-4, atol=1e-6):
            if i == 1:
                raise Incorrect("the first step already differs from torch.optim.Adagrad. After one step the sum is "
                                "g**2, so the step is lr * g / (|g| + eps): about lr per coordinate. (A running "
                                "average such as 0.9 * sum + 0.1 * g**2 is RMSprop, not Adagrad.)")
            raise Incorrect(f"step 1 matches torch.optim.Adagrad but step {i} does not: the sum of squared gradients "
                            "must keep EVERY past gradient (sum += g**2), not an average that forgets.")


register("04", Exercise(
    name="q2",
    question="Write Adagrad as a class like the notebook's: Adagrad(params, lr, eps=1e-10) with zero_grad() and "
             "step(). Adagrad divides each gradient by the square root of the SUM of all its squared gradients so "
             "far. The checker compares five steps with torch.optim.Adagrad.",
    checker=_nb04_check_adagrad,
    hint_text="Subclass HandOptimizer and write update(p, grad, state): keep state['sum'] = state.get('sum', 0) + "
              "grad**2, then p -= lr * grad / (sqrt(sum) + eps). It is RMSprop without the forgetting.",
    solution_text="class Adagrad(HandOptimizer):\n"
                  "    def __init__(self, params, lr=0.01, eps=1e-10):\n"
                  "        super().__init__(params, lr)\n"
                  "        self.eps = eps\n\n"
                  "    def update(self, p, grad, state):\n"
                  "        state['sum'] = state.get('sum', 0) + grad**2\n"
                  "        p -= self.lr * grad / (state['sum'].sqrt() + self.eps)\n\n"
                  "answer = Adagrad",
    reference=lambda: _Nb04Adagrad,
    typical_mistake=lambda: _Nb04AdagradMistake,
    praise="five steps agree with torch.optim.Adagrad. Because the sum only grows, Adagrad's steps only shrink: "
           "good for sparse features, too timid for long deep-learning runs, which is why RMSprop and Adam forget.",
))


def _nb04_check_warmup(answer: Any) -> None:
    if not callable(answer):
        raise Incorrect("pass a function of the step (e.g. a lambda), not a number.")
    values = []
    for step in range(301):
        try:
            values.append(float(answer(step)))
        except Exception as err:
            raise Incorrect(f"factor({step}) raised {type(err).__name__}: {err}") from None
    if any(v > 1 + 1e-9 for v in values):
        step = next(s for s, v in enumerate(values) if v > 1 + 1e-9)
        raise Incorrect(f"factor({step}) = {values[step]:.3g}: the factor multiplies the base learning rate, so after "
                        "the warmup it must stay at 1 (cap it with min(1.0, ...)).")
    if any(v < 0 for v in values):
        raise Incorrect("a factor is negative: learning rates must not be negative.")
    if values[0] > 0.05:
        raise Incorrect(f"factor(0) = {values[0]:.3g}: a warmup starts near 0 (here at most 1/100).")
    if any(b < a - 1e-12 for a, b in zip(values[:101], values[1:101])):
        raise Incorrect("during the first 100 steps the factor should only grow.")
    if abs(values[49] - 0.5) > 0.02:
        raise Incorrect(f"factor(49) = {values[49]:.3g}; halfway through a linear warmup it should be about 0.5.")
    if any(abs(v - 1) > 1e-9 for v in values[100:]):
        raise Incorrect("from step 100 on, the factor should be exactly 1.")


register("04", Exercise(
    name="q3",
    question="Write factor(step) for torch.optim.lr_scheduler.LambdaLR: a linear warmup from about 0 to 1 over the "
             "first 100 steps, then 1 (the base learning rate) for ever.",
    checker=_nb04_check_warmup,
    hint_text="Grow linearly with the step ((step + 1) / 100 never wastes a step on lr = 0), and cap it at 1 with "
              "min(1.0, ...). utils.schedules.warmup_factor shows one way.",
    solution_text="answer = lambda step: min(1.0, (step + 1) / 100)\n\n"
                  "# use it: scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, answer)",
    reference=lambda: (lambda step: min(1.0, (step + 1) / 100)),
    typical_mistake=lambda: (lambda step: step / 100),
    praise="warmup with a cap. Built into utils.schedules.linear_warmup, which can also decay afterwards.",
))
# ===== end notebook 04 =====

# ===== notebook 05 =====
def _nb05_check_scaled_lr(answer: Any) -> None:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise Incorrect(f"the answer should be a number (a learning rate), got {type(answer).__name__}") from None
    if math.isclose(value, 0.05 * math.sqrt(8), rel_tol=0.02):
        raise Incorrect("that is the square-root rule (lr x sqrt(8)). The linear rule multiplies the learning rate "
                        "by the same factor as the batch size.")
    if math.isclose(value, 0.05 / 8, rel_tol=0.02):
        raise Incorrect("a larger batch gives fewer steps per epoch, so each step must go further, not shorter.")
    expect_close(value, 0.05 * 512 / 64, what="your learning rate", rel=0.02)


register("05", Exercise(
    name="q1",
    question="You trained with batch size 64 and learning rate 0.05 (plain SGD). You move to batch size 512. What "
             "learning rate does the linear scaling rule give?",
    checker=_nb05_check_scaled_lr,
    hint_text="One step with a batch k times larger should move the weights about as far as k steps with the "
              "small batch did. How much larger is 512 than 64?",
    solution_text="The batch grew by k = 512 / 64 = 8, so the learning rate grows by 8 too:\n\n"
                  "answer = 0.05 * 512 / 64   # 0.4",
    reference=lambda: 0.05 * 512 / 64,
    typical_mistake=lambda: 0.05 * math.sqrt(8),
    praise="0.4. In practice, start the large learning rate with a short warm-up: the rule holds once training "
           "has settled, and it breaks down when k x lr passes the stability limit.",
))


def _nb05_check_batch_for_noise(answer: Any) -> None:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise Incorrect(f"the answer should be a number (a batch size), got {type(answer).__name__}") from None
    if math.isclose(value, 128, rel_tol=0.01):
        raise Incorrect("128 is 4x the batch, which divides the variance by 4 but the spread only by sqrt(4) = 2.")
    expect_close(value, 512, what="your batch size", rel=0.01)


register("05", Exercise(
    name="q2",
    question="With batch size 32 the minibatch gradients scatter around the full-batch gradient with a spread "
             "(root-mean-square distance) of 0.6. Which batch size brings the spread down to 0.15?",
    checker=_nb05_check_batch_for_noise,
    hint_text="The spread falls like 1 / sqrt(B). To divide it by 4, by what factor must B grow?",
    solution_text="0.6 / 0.15 = 4 = sqrt(B / 32), so B = 32 * 4**2:\n\nanswer = 32 * 16   # 512",
    reference=lambda: 512,
    typical_mistake=lambda: 128,
    praise="512: sixteen times the batch (and about sixteen times the computation per step) for a quarter of the "
           "noise. That is why ever larger batches stop paying off.",
))

_NB05_CURVES = (
    ([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], [2.30, 2.30, 2.25, 1.60, 1.10, 9.00]),
    ([1e-4, 1e-3, 1e-2, 1e-1, 1.0], [2.3, 2.0, 1.2, 0.9, float("nan")]),  # the sweep ended on a NaN
    ([0.001, 0.01, 0.1], [1.0, 0.5, 0.7]),
)


def _nb05_check_suggest(answer: Any) -> None:
    from .lr_finder import suggest_lr

    if not callable(answer):
        raise Incorrect(f"the answer should be a function suggest(lrs, smoothed), got {type(answer).__name__}")
    for lrs, smoothed in _NB05_CURVES:
        try:
            got = float(answer(list(lrs), list(smoothed)))
        except Exception as err:  # the learner's code failed: say how, do not crash the check
            raise Incorrect(f"suggest({lrs}, {smoothed}) raised {type(err).__name__}: {err}") from None
        expected = suggest_lr(lrs, smoothed)
        if math.isclose(got, expected * 10, rel_tol=1e-6):
            raise Incorrect(f"for lrs={lrs} you return {got:g}, the learning rate at the lowest loss. "
                            "There the loss is about to turn up: take a tenth of it.")
        if not math.isclose(got, expected, rel_tol=1e-6):
            raise Incorrect(f"for lrs={lrs} and smoothed={smoothed} you return {got:g}; expected {expected:g}. "
                            "Does your function skip losses that are NaN or infinite?")


register("05", Exercise(
    name="q3",
    question="Write suggest(lrs, smoothed): the learning rate a range test suggests, a tenth of the learning "
             "rate at which the smoothed loss is lowest. Ignore losses that are NaN or infinite.",
    checker=_nb05_check_suggest,
    hint_text="numpy's argmin finds the position of the smallest value, but a NaN counts as the smallest: replace "
              "non-finite values by +inf first (np.isfinite, np.where).",
    solution_text="import numpy as np\n\n"
                  "def suggest(lrs, smoothed):\n"
                  "    values = np.asarray(smoothed, dtype=float)\n"
                  "    values = np.where(np.isfinite(values), values, np.inf)\n"
                  "    return lrs[int(np.argmin(values))] / 10\n\n"
                  "answer = suggest   # the same rule as utils.lr_finder.suggest_lr",
    reference=lambda: _nb05_suggest_reference,
    typical_mistake=lambda: _nb05_suggest_mistake,
    praise="your rule agrees with utils.lr_finder.suggest_lr on every test curve.",
))


def _nb05_suggest_reference(lrs, smoothed):
    import numpy as np

    values = np.asarray(smoothed, dtype=float)
    return lrs[int(np.argmin(np.where(np.isfinite(values), values, np.inf)))] / 10


def _nb05_suggest_mistake(lrs, smoothed):
    import numpy as np

    return lrs[int(np.argmin(smoothed))]  # the minimum itself, and a NaN wins argmin
# ===== end notebook 05 =====

# ===== notebook 06 =====
_NB06_CONFUSION = [[50, 3, 2], [10, 30, 0], [5, 5, 10]]  # rows: true class, columns: predicted class


def _nb06_per_class_accuracy(confusion):
    """Reference for 06 q1: for every true class (row), the correct count (diagonal) over the row's total."""
    import torch

    confusion = torch.as_tensor(confusion, dtype=torch.float64)
    return confusion.diagonal() / confusion.sum(dim=1)


def _nb06_per_class_accuracy_mistake(confusion):
    """Typical mistake for 06 q1: dividing by the column sums, which gives precision, not per-class accuracy."""
    import torch

    confusion = torch.as_tensor(confusion, dtype=torch.float64)
    return confusion.diagonal() / confusion.sum(dim=0)


def _nb06_check_per_class_accuracy(answer: Any) -> None:
    import torch

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = per_class_accuracy`), not the result of calling it.")
    confusion = torch.tensor(_NB06_CONFUSION)
    try:
        got = answer(confusion.clone())
    except Exception as err:
        raise Incorrect(f"on the matrix {_NB06_CONFUSION} your function raised {type(err).__name__}: {err}") from None
    try:
        got = torch.as_tensor(got, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise Incorrect(f"return one number per class (a tensor, list or array), got {type(got).__name__}") from None
    if got.numel() != len(_NB06_CONFUSION):
        raise Incorrect(f"return one accuracy per class: {len(_NB06_CONFUSION)} numbers for a "
                        f"{len(_NB06_CONFUSION)}x{len(_NB06_CONFUSION)} matrix, got {got.numel()}.")
    c = confusion.double()
    expected = c.diagonal() / c.sum(dim=1)
    if torch.allclose(got, expected, atol=1e-6):
        return
    if torch.allclose(got, c.diagonal() / c.sum(dim=0), atol=1e-6):
        raise Incorrect("you divided by the column sums: that is the precision of each class (of the samples "
                        "*predicted* as class c, how many are c). Rows are the true classes: divide by the row sums.")
    if torch.allclose(got, 100 * expected, atol=1e-4):
        raise Incorrect("those are percentages: return fractions between 0 and 1.")
    if torch.allclose(got, c.diagonal()):
        raise Incorrect("those are the counts of correct answers: divide each by the number of samples of its class.")
    if torch.allclose(got, c.diagonal() / c.sum()):
        raise Incorrect("you divided by the number of all samples: these add up to the overall accuracy. Divide "
                        "each class's correct count by the number of samples of that class (its row).")
    raise Incorrect(f"for the matrix {_NB06_CONFUSION} (rows: true class) your function returned "
                    f"{[round(v, 4) for v in got.tolist()]}.")


register("06", Exercise(
    name="q1",
    question="Write per_class_accuracy(confusion): from a confusion matrix (rows: true class, columns: predicted "
             "class), the fraction of each class's samples that were predicted correctly.",
    checker=_nb06_check_per_class_accuracy,
    hint_text="Row c holds every sample whose true class is c; its diagonal entry confusion[c, c] counts the ones "
              "predicted correctly. confusion.diagonal() and confusion.sum(dim=1) do it for all rows at once.",
    solution_text="def per_class_accuracy(confusion):\n"
                  "    confusion = confusion.double()\n"
                  "    return confusion.diagonal() / confusion.sum(dim=1)\n\n"
                  "answer = per_class_accuracy   # the same as utils.evaluation.per_class_accuracy",
    reference=lambda: _nb06_per_class_accuracy,
    typical_mistake=lambda: _nb06_per_class_accuracy_mistake,
    praise="diagonal over row sums: the share of each true class that the model gets right.",
))


def _nb06_restore_for_inference(path, build_model):
    """Reference for 06 q2: a fresh model, the checkpoint's weights (weights_only=True), eval mode."""
    from .training import load_checkpoint

    model = build_model()
    load_checkpoint(path, model)  # torch.load(path, weights_only=True) inside
    return model.eval()


def _nb06_restore_for_inference_mistake(path, build_model):
    """Typical mistake for 06 q2: the weights are loaded, but the model is left in training mode."""
    from .training import load_checkpoint

    model = build_model()
    load_checkpoint(path, model)
    return model


def _nb06_check_restore_for_inference(answer: Any) -> None:
    import tempfile
    from pathlib import Path

    import torch
    from torch import nn

    from .models import MLP
    from .training import save_checkpoint

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = restore_for_inference`), not the result of calling it.")

    def build_model():
        return MLP((1, 4, 4), 3, hidden=16, dropout=0.5)

    with torch.random.fork_rng(devices=[]):  # leave the notebook's random numbers as they were
        torch.manual_seed(6)
        trained = build_model().eval()
        x = torch.randn(32, 1, 4, 4)
        with torch.no_grad():
            expected = trained(x)
        load_calls = []
        original_load = torch.load

        def spy(*args, **kwargs):
            load_calls.append(kwargs.get("weights_only"))
            return original_load(*args, **kwargs)

        with tempfile.TemporaryDirectory() as tmp:
            path = save_checkpoint(Path(tmp) / "best.pt", trained, epoch=3)
            torch.load = spy
            try:
                got = answer(path, build_model)
            except Exception as err:
                raise Incorrect(f"your function raised {type(err).__name__}: {err}") from None
            finally:
                torch.load = original_load
    if False in load_calls:
        raise Incorrect("you called torch.load(..., weights_only=False): that runs whatever code the file contains. "
                        "A checkpoint of weights loads with weights_only=True (utils.load_checkpoint does that).")
    if not isinstance(got, nn.Module):
        raise Incorrect(f"return the model, ready to predict; got {type(got).__name__}.")
    want = trained.state_dict()
    have = got.state_dict()
    if have.keys() != want.keys() or not all(torch.equal(have[k].cpu(), want[k]) for k in want):
        raise Incorrect("the model's weights are not the checkpoint's: load them with utils.load_checkpoint(path, model) "
                        "(or model.load_state_dict(checkpoint['model'])).")
    if any(module.training for module in got.modules()):
        raise Incorrect("the weights are right, but the model is in training mode: its dropout layers still drop units "
                        "at random, so predictions change from call to call. Call model.eval() before returning it.")
    with torch.no_grad():
        if not torch.allclose(got(x), expected, atol=1e-6):
            raise Incorrect("the restored model's predictions differ from the saved model's.")


register("06", Exercise(
    name="q2",
    question="Write restore_for_inference(path, build_model): build a fresh model with build_model(), load the "
             "checkpoint at path into it safely, and return it ready to make predictions.",
    checker=_nb06_check_restore_for_inference,
    hint_text="Three steps: model = build_model(); utils.load_checkpoint(path, model) (it uses weights_only=True); "
              "and one more call, because the model has dropout and predictions must not be random.",
    solution_text="def restore_for_inference(path, build_model):\n"
                  "    model = build_model()\n"
                  "    utils.load_checkpoint(path, model)   # torch.load(path, weights_only=True) inside\n"
                  "    return model.eval()                  # dropout off: the same input, the same prediction\n\n"
                  "answer = restore_for_inference",
    reference=lambda: _nb06_restore_for_inference,
    typical_mistake=lambda: _nb06_restore_for_inference_mistake,
    praise="the checkpoint's weights, loaded without running code from the file, in eval mode: ready to predict.",
))


_NB06_RUN = {"train_images": 20_000, "batch_size": 128, "epochs": 5}


def _nb06_check_onecycle_steps(answer: Any) -> None:
    n, batch, epochs = _NB06_RUN["train_images"], _NB06_RUN["batch_size"], _NB06_RUN["epochs"]
    per_epoch = math.ceil(n / batch)
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise Incorrect(f"the answer should be a whole number of steps, got {type(answer).__name__}") from None
    if value == epochs * (n // batch):
        raise Incorrect(f"that counts {n // batch} batches per epoch, but {n:,} / {batch} = {n / batch} and the last, "
                        "smaller batch is a step too: round up.")
    if value == epochs:
        raise Incorrect("that is one step per epoch. With scheduler_interval='step', fit calls scheduler.step() after "
                        "every optimizer step, i.e. every batch.")
    if value == per_epoch:
        raise Incorrect("that is one epoch's worth of steps; the schedule has to last the whole run.")
    if not value.is_integer():
        raise Incorrect("steps come in whole numbers: how many batches does one epoch have?")
    expect_close(value, epochs * per_epoch, what="your total_steps", rel=0, abs_tol=0.5)


register("06", Exercise(
    name="q3",
    question="fit(..., epochs=5, scheduler=OneCycleLR(optimizer, max_lr, total_steps=?), scheduler_interval='step') "
             "over 20,000 training images in batches of 128 (a TensorLoader keeps the last, smaller batch): "
             "what must total_steps be?",
    checker=_nb06_check_onecycle_steps,
    hint_text="fit steps the scheduler once per optimizer step, and there is one optimizer step per batch. "
              "Batches per epoch: 20,000 / 128, rounded up. Then multiply by the number of epochs.",
    solution_text="answer = 5 * math.ceil(20_000 / 128)   # 5 * 157 = 785; in general epochs * len(train_loader)\n"
                  "# One step short and OneCycleLR raises 'Tried to step ... times' in the last batch.",
    reference=lambda: 5 * math.ceil(20_000 / 128),
    typical_mistake=lambda: 5 * (20_000 // 128),
    praise="epochs * len(train_loader): the schedule ends exactly with the last batch.",
))
# ===== end notebook 06 =====

"""Exercises of notebook 02 (notebooks/02_loss_functions.ipynb): each checker, its hint, its solution and a
typical mistake."""

from __future__ import annotations

import math
import unittest.mock
from typing import Any

from .core import Exercise, Incorrect, as_number, expect_close, register


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
    library_calls = []  # F.cross_entropy (nn.CrossEntropyLoss calls it too) is what the task forbids
    library = F.cross_entropy

    def recording_cross_entropy(*args, **kwargs):
        library_calls.append(1)
        return library(*args, **kwargs)

    for what, logits, targets in cases:
        logits = logits.clone().requires_grad_()
        try:
            with unittest.mock.patch.object(F, "cross_entropy", recording_cross_entropy):
                got = answer(logits, targets.clone())
        except Exception as err:  # the learner's code may fail in any way: report it, don't crash
            raise Incorrect(f"on {what} your function raised {type(err).__name__}: {err}") from None
        if library_calls:
            raise Incorrect("your function calls F.cross_entropy (or nn.CrossEntropyLoss, which calls it): the task "
                            "is to write it yourself, from torch.logsumexp and indexing.")
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
    explanation="The loss of one sample is log(sum_k exp(z_k)) - z_y. torch.logsumexp subtracts the largest logit "
                "before exponentiating, so nothing overflows; indexing picks each sample's correct logit z_y; "
                "mean() averages over the samples, as reduction='mean' does.",
    solution_code="import torch\n\n"
                  "def my_cross_entropy(logits, targets):\n"
                  "    correct = logits[torch.arange(len(targets)), targets]\n"
                  "    return (torch.logsumexp(logits, dim=1) - correct).mean()\n\n"
                  "answer = my_cross_entropy\n",
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
    explanation="Each loss is multiplied by the weight of its sample's class, and 'mean' divides by the sum of "
                "those weights: (1.0*0.2 + 4.0*1.0 + 4.0*2.0 + 1.0*0.4) / (1.0 + 4.0 + 4.0 + 1.0) = 12.6 / 10.",
    solution_code="losses = [0.2, 1.0, 2.0, 0.4]\n"
                  "classes = [0, 1, 1, 0]\n"
                  "class_weights = [1.0, 4.0]\n"
                  "w = [class_weights[c] for c in classes]   # [1.0, 4.0, 4.0, 1.0]\n"
                  "answer = sum(wi * li for wi, li in zip(w, losses)) / sum(w)   # 12.6 / 10 = 1.26\n",
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
    "spam": {"BCEWithLogitsLoss", "CrossEntropyLoss"},  # one logit with BCE, or two logits with softmax CE
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
    explanation="A real number: a regression loss. One yes/no question: BCEWithLogitsLoss on one logit, or "
                "equally CrossEntropyLoss on two logits (section 4 shows the two are the same loss). Several "
                "independent yes/no questions: BCEWithLogitsLoss, one logit each. Exactly one of C classes: "
                "CrossEntropyLoss.",
    solution_code="from torch import nn\n\n"
                  "answer = {\n"
                  "    'price': nn.HuberLoss,          # or MSELoss / L1Loss: a real number\n"
                  "    'spam': nn.BCEWithLogitsLoss,   # one yes/no question, one logit (or CrossEntropyLoss, 2 logits)\n"
                  "    'tags': nn.BCEWithLogitsLoss,   # 20 independent yes/no questions, 20 logits\n"
                  "    'digit': nn.CrossEntropyLoss,   # exactly one of 10 classes, 10 logits\n"
                  "}\n",
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
    explanation="Each entry costs -log(0.5) = ln 2, whatever its target, and the mean of equal numbers is that "
                "number: about 0.693 (the notebook checks it on a fresh utils.MLP).",
    solution_code="import math\n\n"
                  "answer = math.log(2)   # about 0.693\n",
    typical_mistake=lambda: math.log(10),
    praise="ln 2: with BCE, every output is its own coin flip at the start.",
))

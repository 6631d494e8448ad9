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


def _nb02_global_max_cross_entropy(logits, targets):
    """Typical mistake for 02 q1: log-sum-exp shifted by one maximum for the whole batch instead of each row's."""
    import torch

    m = logits.max()
    log_sum_exp = m + torch.log(torch.exp(logits - m).sum(dim=1))
    return (log_sum_exp - logits[torch.arange(len(targets)), targets]).mean()


def _nb02_q1_cases():
    """(what, logits, targets): ordinary batches, huge logits, and rows at very different scales in one batch."""
    import torch

    gen = torch.Generator().manual_seed(2)
    return [
        ("6 samples, 4 classes", torch.randn(6, 4, generator=gen), torch.tensor([0, 3, 1, 1, 2, 0])),
        ("5 samples, 10 classes", 3 * torch.randn(5, 10, generator=gen), torch.tensor([9, 0, 4, 4, 7])),
        ("huge logits (around 1000)", torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 995.0]]),
         torch.tensor([2, 2])),
        # one maximum for the whole batch (1000) sends every exp of the second row to 0: log(0) = -inf
        ("rows at different scales (one around 1000, one around 0)",
         torch.tensor([[1000.0, 999.0, 990.0], [0.0, 1.0, -1.0]]), torch.tensor([1, 0])),
        ("rows at different scales (one around -1000, one around 0)",
         torch.tensor([[-1000.0, -999.0, -1004.0], [0.0, 2.0, 1.0]]), torch.tensor([0, 2])),
    ]


def _nb02_check_cross_entropy(answer: Any) -> None:
    import torch
    import torch.nn.functional as F

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = my_cross_entropy`), not the result of calling it.")
    library_calls = []  # the task forbids the library's cross-entropy, however it is reached

    def recording(library):
        def call(*args, **kwargs):
            library_calls.append(1)
            return library(*args, **kwargs)
        return call

    for what, logits, targets in _nb02_q1_cases():
        # the reference is computed before the learner's code runs, which could change the logits in place
        expected = F.cross_entropy(logits, targets).item()
        want_grad = (torch.softmax(logits, dim=1) - F.one_hot(targets, logits.shape[1])) / len(targets)
        logits = logits.clone().requires_grad_()
        try:
            # F.cross_entropy, nn.CrossEntropyLoss and a name imported earlier
            # (`from torch.nn.functional import cross_entropy`) all end in torch._C._nn.cross_entropy_loss
            with unittest.mock.patch.object(F, "cross_entropy", recording(F.cross_entropy)), \
                    unittest.mock.patch.object(torch._C._nn, "cross_entropy_loss",
                                               recording(torch._C._nn.cross_entropy_loss)):
                got = answer(logits, targets.clone())
        except Exception as err:  # the learner's code may fail in any way: report it, don't crash
            raise Incorrect(f"on {what} your function raised {type(err).__name__}: {err}") from None
        if library_calls:
            raise Incorrect("your function calls PyTorch's cross-entropy (F.cross_entropy or nn.CrossEntropyLoss): "
                            "the task is to write it yourself, from torch.logsumexp and indexing.")
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            raise Incorrect("return one number as a tensor (the mean over the samples), e.g. `losses.mean()`.")
        if not got.requires_grad:
            raise Incorrect("no gradient flows back to the logits: stay in torch (no `.item()`, numpy or `.detach()`).")
        value = got.detach().double().item()
        if not math.isfinite(value):
            if what.startswith("rows at different scales"):
                raise Incorrect(f"on {what} you get {value}: subtract each row's own maximum "
                                "(`logits.max(dim=1, keepdim=True)`), not one maximum for the whole batch; a row far "
                                "below that maximum has every exp round to 0, and log(0) = -inf. torch.logsumexp "
                                "does it per row.")
            raise Incorrect(f"on {what} you get {value}: exp overflowed (exp(1000) = inf) or a probability "
                            "underflowed to 0 (log(0) = -inf). Use torch.logsumexp, which subtracts each row's maximum.")
        if math.isclose(value, expected * len(targets), rel_tol=1e-4) and len(targets) > 1:
            raise Incorrect(f"on {what} you get the sum over the samples ({value:.4f}); average them instead "
                            "(reduction='mean').")
        if not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-4):
            raise Incorrect(f"on {what} you get {value:.4f} but nn.CrossEntropyLoss gives {expected:.4f} "
                            "(normalise over the classes, dim=1, pick each sample's own class, and average over "
                            "the samples).")
        if what == "6 samples, 4 classes":  # the value is right: is the gradient too?
            (grad,) = torch.autograd.grad(got, logits, allow_unused=True)
            if grad is None or not torch.allclose(grad, want_grad, atol=1e-5):
                raise Incorrect("the value is right, but the gradient reaching the logits is not "
                                "(softmax - one-hot) / N: compute the loss from the logits themselves.")


register("02", Exercise(
    name="q1",
    question="Write my_cross_entropy(logits, targets): the mean cross-entropy from logits (N, C) and class "
             "indices (N,), from torch.logsumexp (or F.log_softmax) and indexing, without F.cross_entropy, "
             "nn.CrossEntropyLoss or softmax; finite and exact when rows around 1000 and around 0 share a batch.",
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
    praise="your cross-entropy matches nn.CrossEntropyLoss, has its gradient, and survives huge logits and rows at "
           "different scales in one batch.",
))

_NB02_LOSSES = [0.2, 1.0, 2.0, 0.4]
_NB02_CLASSES = [0, 1, 1, 1]  # unequal counts, so no wrong mental model lands on the answer
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
    weighted_sum = _nb02_weighted(divide_by_samples=False) * sum(_NB02_WEIGHTS[c] for c in _NB02_CLASSES)
    if math.isclose(number, weighted_sum, rel_tol=1e-3):
        raise Incorrect("that is the weighted sum (what reduction='sum' reports); 'mean' then divides it by the sum "
                        "of the samples' weights.")
    if math.isclose(number, weighted_sum / sum(_NB02_WEIGHTS), rel_tol=1e-3):
        raise Incorrect("you divided by the sum of the class weights (1 + 4); divide by the sum of the weights of "
                        "the four samples' classes (1 + 4 + 4 + 4).")
    class_means = [sum(x for x, c in zip(_NB02_LOSSES, _NB02_CLASSES, strict=True) if c == k)
                   / _NB02_CLASSES.count(k) for k in range(len(_NB02_WEIGHTS))]
    if math.isclose(number, sum(w * m for w, m in zip(_NB02_WEIGHTS, class_means, strict=True)) / sum(_NB02_WEIGHTS),
                    rel_tol=1e-3):
        raise Incorrect("that is a weighted average of the per-class mean losses; the loss weights each *sample* "
                        "by its class's weight, so a class with more samples counts more: sum(w_i l_i) / sum(w_i).")
    swapped = [_NB02_WEIGHTS[1 - c] for c in _NB02_CLASSES]
    if math.isclose(number, sum(w * x for w, x in zip(swapped, _NB02_LOSSES, strict=True)) / sum(swapped), rel_tol=1e-3):
        raise Incorrect("the weights are swapped: weight[c] belongs to the samples of class c (class 0 gets 1.0).")
    # 1.06, rounded as the praise prints it (13.8 / 13 = 1.0615...), is right too; every wrong mean above is >10% away
    expect_close(number, _nb02_weighted(divide_by_samples=False), what="your weighted mean", rel=5e-3)


register("02", Exercise(
    name="q2",
    question="Four samples have per-sample losses [0.2, 1.0, 2.0, 0.4] and classes [0, 1, 1, 1]; the class weights "
             "are [1.0, 4.0]. What does nn.CrossEntropyLoss(weight=...) with reduction='mean' report?",
    checker=_nb02_check_weighted_mean,
    hint_text="Each loss is multiplied by the weight of its sample's class; 'mean' then divides by the sum of "
              "those weights, not by the number of samples.",
    explanation="Each loss is multiplied by the weight of its sample's class, and 'mean' divides by the sum of "
                "those weights: (1.0*0.2 + 4.0*1.0 + 4.0*2.0 + 4.0*0.4) / (1.0 + 4.0 + 4.0 + 4.0) = 13.8 / 13.",
    solution_code="losses = [0.2, 1.0, 2.0, 0.4]\n"
                  "classes = [0, 1, 1, 1]\n"
                  "class_weights = [1.0, 4.0]\n"
                  "w = [class_weights[c] for c in classes]   # [1.0, 4.0, 4.0, 4.0]\n"
                  "answer = sum(wi * li for wi, li in zip(w, losses)) / sum(w)   # 13.8 / 13 = 1.0615...\n",
    typical_mistake=lambda: _nb02_weighted(divide_by_samples=True),
    praise="13.8 / 13 = 1.06: the weights' sum is the denominator, so uniform weights change nothing.",
))

_NB02_TASKS = {
    "price": "predict a flat's price in euros",
    "spam": "decide whether an e-mail is spam",
    "tags": "tag a photo with any of 20 labels (beach, dog, sunset, ...)",
    "digit": "recognise which of the 10 digits an 8x8 image shows",
}
_NB02_ACCEPTED = {
    "price": {"MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss"},
    # one logit with BCE, two logits with softmax CE, or SoftMarginLoss: the same logistic loss with targets -1/+1
    "spam": {"BCEWithLogitsLoss", "CrossEntropyLoss", "SoftMarginLoss"},
    # MultiLabelSoftMarginLoss: BCE with logits averaged over the labels, the same number on multi-hot targets
    "tags": {"BCEWithLogitsLoss", "MultiLabelSoftMarginLoss"},
    # MultiMarginLoss: the multi-class hinge loss on logits and class indices (scores, not probabilities)
    "digit": {"CrossEntropyLoss", "MultiMarginLoss"},
}
_NB02_ACCEPTED["tags"].add("MultiLabelMarginLoss")  # the multi-label hinge loss (its targets: indices padded with -1)


def _nb02_loss_name(value: Any) -> str:
    """'CrossEntropyLoss' from nn.CrossEntropyLoss, nn.CrossEntropyLoss() or the string itself."""
    if isinstance(value, str):
        return value.strip().removeprefix("torch.nn.").removeprefix("nn.").removesuffix("()")
    if isinstance(value, type):
        return value.__name__
    return type(value).__name__


def torch_module_type() -> type:
    """``torch.nn.Module``, imported only when a checker runs."""
    from torch import nn

    return nn.Module


def type_module(value: Any) -> str:
    """The module a class (or an instance's class) was defined in."""
    return getattr(value if isinstance(value, type) else type(value), "__module__", "") or ""


def _nb02_is_torch_loss(name: str) -> bool:
    from torch import nn

    return name.endswith("Loss") and isinstance(getattr(nn, name, None), type)


def _nb02_check_loss_choice(answer: Any) -> None:
    if not isinstance(answer, dict):
        raise Incorrect(f"the answer should be a dict with the keys {sorted(_NB02_TASKS)}, got {type(answer).__name__}")
    missing = sorted(set(_NB02_TASKS) - set(answer))
    if missing:
        raise Incorrect(f"the dict lacks the key(s) {missing}")
    for key, accepted in _NB02_ACCEPTED.items():
        value = answer[key]
        if callable(value) and not isinstance(value, (type, torch_module_type())):
            function = getattr(value, "__name__", type(value).__name__)
            raise Incorrect(f"{key}: {function!r} is a function; answer with the torch.nn loss class, e.g. "
                            "nn.MSELoss rather than F.mse_loss.")
        name = _nb02_loss_name(value)
        if not isinstance(value, str) and not type_module(value).startswith("torch.nn"):
            raise Incorrect(f"{key}: {name!r} is not PyTorch's own class (it comes from {type_module(value)!r}); "
                            "answer with a torch.nn loss class.")
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
        if not _nb02_is_torch_loss(name):
            raise Incorrect(f"{key}: {name!r} is not the name of a torch.nn loss class; write it as torch spells it, "
                            "e.g. 'MSELoss' or nn.MSELoss.")
        raise Incorrect(f"{key} ({_NB02_TASKS[key]}): {name!r} does not fit this task (what its output means); "
                        "see the table in section 6.")


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
    praise="each task got a loss that matches what its output means. (CrossEntropyLoss for spam needs two "
           "logits, Linear(h, 2), and int64 targets; the margin losses give scores, not probabilities.)",
))


def _nb02_check_bce_start(answer: Any) -> None:
    number = as_number(answer)
    if math.isclose(number, math.log(10), rel_tol=0.02):
        raise Incorrect("ln 10 is where CrossEntropyLoss starts. BCEWithLogitsLoss asks 10 separate yes/no "
                        "questions; what is the loss of one of them when its logit is 0?")
    if math.isclose(number, 10 * math.log(2), rel_tol=0.02):
        raise Incorrect("that is the sum over the 10 outputs; BCEWithLogitsLoss's mean runs over all N x 10 "
                        "entries, so it reports the loss of one entry.")
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

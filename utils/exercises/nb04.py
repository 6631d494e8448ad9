"""Exercises of notebook 04: each checker, its hint, its solution, its reference and a typical mistake."""

from __future__ import annotations

import math
from typing import Any

from .core import Exercise, Incorrect, expect_close, register

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

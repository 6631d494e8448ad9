"""Exercises of notebook 04 (optimizers and schedules): checker, hint, solution and a typical mistake for each.

Explained in notebooks/04_optimizers.ipynb. Each solution exists once, as ``solution_code``: the code that
``solution()`` prints and the tests run through the checker.
"""

from __future__ import annotations

import math
from typing import Any

from .core import Exercise, Incorrect, as_number, register

# ----------------------------------------------------------------------------------------------- q1: stability limit
# f(x, y) = 3 x^2 + 40 y^2: second derivatives 6 and 80 (not 3 and 40), so gradient descent converges iff lr < 2/80.
_Q1_CURVATURES = (6.0, 80.0)


def _check_stability_limit(answer: Any) -> None:
    small, big = _Q1_CURVATURES
    value = as_number(answer, "the answer (a learning rate)")
    limit = 2 / big
    if math.isclose(value, limit, rel_tol=1e-6):
        return
    if math.isclose(value, 2 / 40, rel_tol=1e-3):
        raise Incorrect("2 / 40 takes the coefficient 40 as the curvature. The curvature is the SECOND derivative: "
                        "d^2/dy^2 of 40 y^2 is 80.")
    if math.isclose(value, 2 / small, rel_tol=1e-3) or math.isclose(value, 2 / 3, rel_tol=1e-3):
        raise Incorrect("that limit comes from the flat direction (x). Gradient descent diverges as soon as ANY "
                        "direction overshoots by more than it started with: the steepest one decides.")
    if math.isclose(value, 1 / big, rel_tol=1e-3):
        raise Incorrect("1 / 80 lands exactly on the valley floor along y in one step. Overshooting is allowed as long "
                        "as each bounce is smaller than the last: how far can the learning rate go?")
    if 0 < value < limit:
        raise Incorrect(f"gradient descent does converge at {value:.6g}, but so it does at every rate up to the limit; "
                        "the question asks for the limit itself, the boundary where |1 - lr * curvature| reaches 1.")
    if value > limit:
        factor = abs(1 - value * big)
        raise Incorrect(f"at {value:.6g} one step multiplies y by 1 - {value:.6g} * {big:g} = {1 - value * big:.3g}; "
                        f"|{1 - value * big:.3g}| = {factor:.3g} >= 1, so y grows (or never shrinks): it diverges.")
    raise Incorrect("a learning rate is a number > 0.")


register("04", Exercise(
    name="q1",
    question="Gradient descent on f(x, y) = 3 x^2 + 40 y^2 converges for every learning rate below a limit and for "
             "none at or above it. What is that limit (the stability limit)?",
    checker=_check_stability_limit,
    hint_text="Along each axis one step multiplies the coordinate by (1 - lr * curvature), where the curvature is "
              "the second derivative along that axis (for a x^2 it is 2a). The coordinate shrinks, even while it "
              "flips sign, while |1 - lr * curvature| < 1. Which axis gives the smaller limit?",
    solution_code="curvatures = (2 * 3, 2 * 40)   # second derivatives of 3 x^2 and 40 y^2\n"
                  "answer = 2 / max(curvatures)    # 0.025: |1 - lr * 80| < 1 needs lr < 2 / 80\n",
    explanation="Each coordinate evolves on its own: x <- (1 - 6 lr) x and y <- (1 - 80 lr) y. Both shrink only if "
                "|1 - lr * curvature| < 1 for both curvatures, i.e. lr < 2 / 80. At exactly 2 / 80 the y coordinate "
                "flips sign with the same size for ever: the limit is a boundary, not a rate to train with.",
    typical_mistake=lambda: 2 / 40,
    praise="lr < 2 / (largest curvature). The steepest direction sets the speed limit for every direction, which "
           "is why ill-conditioned problems are slow for plain gradient descent.",
))


# ----------------------------------------------------------------------------------------------- q2: Adagrad
_ADAGRAD_SOLUTION = '''import torch


class Adagrad:
    """Adagrad: each coordinate's step is divided by the root of the SUM of all its squared gradients so far."""

    def __init__(self, params, lr=0.01, eps=1e-10):
        self.params, self.lr, self.eps = list(params), lr, eps
        self.sums = [torch.zeros_like(p) for p in self.params]  # one running sum per parameter tensor

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p, total in zip(self.params, self.sums):
            if p.grad is None:
                continue
            total += p.grad**2  # every squared gradient so far, never forgotten (in place: the state persists)
            p -= self.lr * p.grad / (total.sqrt() + self.eps)


answer = Adagrad
'''


class _AdagradAsRMSprop:
    """Typical mistake for q2: a running average of squared gradients (that is RMSprop, not Adagrad)."""

    def __init__(self, params, lr=0.01, eps=1e-10):
        import torch

        self.params, self.lr, self.eps = list(params), lr, eps
        self.averages = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        import torch

        with torch.no_grad():
            for p, average in zip(self.params, self.averages):
                average.mul_(0.9).add_(0.1 * p.grad**2)
                p -= self.lr * p.grad / (average.sqrt() + self.eps)


def _adagrad_problem(seed: int):
    """Two parameter tensors of different shapes (a 3x2 weight and a bias of 2) and a least-squares loss on them."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(16, 3, generator=gen), torch.randn(16, 2, generator=gen)
    start = (torch.randn(3, 2, generator=gen), torch.randn(2, generator=gen))
    return x, y, start


def _check_adagrad(answer: Any) -> None:
    import torch

    if not isinstance(answer, type):
        if isinstance(answer, torch.optim.Optimizer) or (hasattr(answer, "step") and hasattr(answer, "zero_grad")):
            raise Incorrect("pass the class itself (`answer = Adagrad`), not an instance of it.")
        raise Incorrect("pass your class itself (`answer = Adagrad`, no brackets).")
    if issubclass(answer, torch.optim.Adagrad):
        raise Incorrect("that is torch.optim.Adagrad (or built on it): write the update yourself in step().")
    # a class that builds a torch.optim optimizer inside (a wrapper) is caught by watching Optimizer.__init__
    built: list = []
    original_init = torch.optim.Optimizer.__init__

    def watching_init(self, *args, **kwargs):
        built.append(self)
        original_init(self, *args, **kwargs)

    torch.optim.Optimizer.__init__ = watching_init
    try:
        _compare_adagrad(answer, built)
    finally:
        torch.optim.Optimizer.__init__ = original_init


def _no_torch_optimizer_inside(built: list, references: list) -> None:
    if any(all(o is not r for r in references) for o in built):
        raise Incorrect("your class builds a torch.optim optimizer inside and lets it do the work: write the update "
                        "yourself in step().")


def _compare_adagrad(answer: Any, built: list) -> None:
    import torch

    references: list = []
    for lr in (0.1, 0.03):
        x, y, start = _adagrad_problem(seed=4)
        yours_params = [t.clone().requires_grad_() for t in start]
        ref_params = [t.clone().requires_grad_() for t in start]
        try:
            yours = answer(yours_params, lr=lr)
        except Exception as err:
            raise Incorrect(f"Adagrad(params, lr={lr}) raised {type(err).__name__}: {err}") from None
        reference = torch.optim.Adagrad(ref_params, lr=lr)
        references.append(reference)
        for i in range(1, 6):
            _no_torch_optimizer_inside(built, references)
            before = [p.detach().clone() for p in yours_params]
            for (w, b), opt in ((yours_params, yours), (ref_params, reference)):
                try:
                    opt.zero_grad()
                    ((x @ w + b - y) ** 2).mean().backward()
                    opt.step()
                except Exception as err:
                    if "leaf Variable" in str(err) or "in-place operation" in str(err):
                        raise Incorrect(f"with lr={lr}, step {i} raised {type(err).__name__}: {err}. Autograd refuses "
                                        "an in-place change of a parameter while it records: put @torch.no_grad() "
                                        "on step() (or work inside `with torch.no_grad():`).") from None
                    raise Incorrect(f"with lr={lr}, step {i} raised {type(err).__name__}: {err}. The checker uses two "
                                    "parameter tensors of different shapes (a 3x2 weight and a bias of 2): keep one "
                                    "sum per tensor, paired with it by zip(self.params, self.sums).") from None
            after = [p.detach() for p in yours_params]
            if not all(torch.isfinite(p).all() for p in after):
                raise Incorrect(f"with lr={lr}, step {i} made a parameter NaN or infinite: check the division "
                                "(sqrt of the sum, plus eps).")
            if all(torch.equal(b0, a) for b0, a in zip(before, after)):
                raise Incorrect(f"step {i} did not change the parameters: step() should update p in place "
                                "(p -= ..., inside torch.no_grad()).")
            for name, mine, ref, start_of_step in zip(("the weight (3x2)", "the bias (2)"), after, ref_params, before):
                if torch.allclose(mine, ref.detach(), rtol=1e-4, atol=1e-6):
                    continue
                if i == 1 and lr == 0.1:
                    moves = (mine - start_of_step).abs()
                    moved = moves.max().item()
                    if moved > 1.5 * lr and moves.min().item() > 0.99 * moved:  # the same long step everywhere
                        raise Incorrect(f"the first step of {name} is longer than lr ({moved:.3g} at "
                                        f"lr={lr}). After one step the sum is exactly g**2, so the first step is about "
                                        "lr per coordinate. A sum that keeps only a fraction of g**2 (an average "
                                        "such as 0.9 * s + 0.1 * g**2) is RMSprop, not Adagrad: add g**2 itself.")
                    raise Incorrect(f"the first step of {name} already differs from torch.optim.Adagrad. After one "
                                    "step the sum is g**2, so the step is lr * g / (sqrt(g**2) + eps): about lr per "
                                    "coordinate. Divide by the SQUARE ROOT of the sum, let the sum start at 0 and "
                                    "add g**2, and step DOWNHILL (p -= ...).")
                if lr != 0.1:
                    raise Incorrect(f"at lr=0.1 your steps match torch.optim.Adagrad, but at lr={lr} {name} does not: "
                                    "use self.lr, the rate the class was given, not a fixed number.")
                raise Incorrect(f"step 1 matches torch.optim.Adagrad but step {i} of {name} does not: each parameter "
                                "tensor needs its OWN sum of squared gradients, which keeps EVERY past gradient "
                                "(sum += g**2; not an average that forgets, which is RMSprop), kept between calls "
                                "of step(). Check also that zero_grad() clears p.grad (p.grad = None): otherwise "
                                "backward() adds each new gradient to the old one.")
    _no_torch_optimizer_inside(built, references)


register("04", Exercise(
    name="q2",
    question="Write Adagrad as a class with the interface of torch.optim: Adagrad(params, lr=0.01, eps=1e-10) with "
             "zero_grad() and step(). Adagrad divides each gradient by the square root of the SUM of all its "
             "squared gradients so far. The checker compares five steps with torch.optim.Adagrad, on two parameter "
             "tensors of different shapes, at two learning rates.",
    checker=_check_adagrad,
    hint_text="Keep one running sum per parameter tensor (torch.zeros_like(p), made in __init__). In step(), under "
              "torch.no_grad(), for each p: add p.grad**2 to its sum in place (sum += ...), then "
              "p -= lr * p.grad / (sum.sqrt() + eps). It is RMSprop without the forgetting.",
    solution_code=_ADAGRAD_SOLUTION,
    explanation="The state is one tensor per parameter, the sum of squared gradients. Both updates are in place "
                "(+=, -=), so the sum survives between steps and the model's own tensors move.",
    typical_mistake=lambda: _AdagradAsRMSprop,
    praise="five steps agree with torch.optim.Adagrad on two tensors at two learning rates. Because the sum only "
           "grows, Adagrad's steps only shrink: good for sparse features, too timid for long deep-learning runs, "
           "which is why RMSprop and Adam forget.",
))


# ----------------------------------------------------------------------------------------------- q3: warmup
def _check_warmup(answer: Any) -> None:
    import numbers

    if not callable(answer) or isinstance(answer, type):
        raise Incorrect("pass a function of the step (e.g. `lambda step: ...`), not a number, a class or a scheduler "
                        "object: LambdaLR calls your function with the step and multiplies the lr by the result.")
    values, steps = [], [*range(301), 1_000, 10_000, 100_000, 1_000_000]
    for step in steps:
        try:
            value = answer(step)
        except Exception as err:
            raise Incorrect(f"factor({step}) raised {type(err).__name__}: {err}") from None
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise Incorrect(f"factor({step}) returned {type(value).__name__} {value!r}; it should return a number.")
        value = float(value)
        if not math.isfinite(value):
            raise Incorrect(f"factor({step}) = {value}: a learning-rate factor must be a finite number.")
        values.append(value)
    if any(v > 1 + 1e-9 for v in values):
        step, value = next((s, v) for s, v in zip(steps, values) if v > 1 + 1e-9)
        raise Incorrect(f"factor({step}) = {value:.3g}: the factor multiplies the base learning rate, so after "
                        "the warmup it must stay at 1 (cap it with min(1.0, ...)).")
    if any(v < 0 for v in values):
        raise Incorrect("a factor is negative: learning rates must not be negative.")
    if values[0] > 0.05:
        raise Incorrect(f"factor(0) = {values[0]:.3g}: a warmup starts near 0 (here at most 1/100).")
    if any(b < a - 1e-12 for a, b in zip(values[:101], values[1:101])):
        raise Incorrect("during the first 100 steps the factor should only grow.")
    if any(abs(v - 1) > 1e-9 for v in values[100:]):
        step, value = next((s, v) for s, v in zip(steps[100:], values[100:]) if abs(v - 1) > 1e-9)
        raise Incorrect(f"factor({step}) = {value:.3g}: from step 100 on, the factor should be exactly 1, for ever.")
    # linear: within 0.011 of s/100 or (s+1)/100 at every step of the ramp (both conventions are fine)
    worst = max(min(abs(v - s / 100), abs(v - (s + 1) / 100)) for s, v in enumerate(values[:100]))
    if worst > 0.011:
        step = max(range(100), key=lambda s: min(abs(values[s] - s / 100), abs(values[s] - (s + 1) / 100)))
        raise Incorrect(f"factor({step}) = {values[step]:.3g}, but a LINEAR warmup over 100 steps is at about "
                        f"{(step + 1) / 100:.3g} there: grow by the same amount (1/100) every step.")


register("04", Exercise(
    name="q3",
    question="Write factor(step) for torch.optim.lr_scheduler.LambdaLR: a linear warmup from about 0 to 1 over the "
             "first 100 steps, then 1 (the base learning rate) for ever.",
    checker=_check_warmup,
    hint_text="Grow linearly with the step ((step + 1) / 100 never wastes a step on lr = 0), and cap it at 1 with "
              "min(1.0, ...). utils.schedules.warmup_factor shows one way.",
    solution_code="answer = lambda step: min(1.0, (step + 1) / 100)\n\n"
                  "# use it: scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, answer)\n",
    explanation="LambdaLR multiplies the optimizer's lr by factor(step). (step + 1) / 100 reaches 1 at step 99 and "
                "never spends a step at lr = 0; min(1.0, ...) holds it at 1 afterwards.",
    typical_mistake=lambda: (lambda step: step / 100),
    praise="warmup with a cap. Built into utils.schedules.linear_warmup, which can also decay afterwards.",
))


# ----------------------------------------------------------------------------------------------- q4: tuned momentum
def _check_heavy_ball_tuning(answer: Any) -> None:
    if not callable(answer):
        raise Incorrect("pass a function tuning(mu, L) that returns (lr, beta), not a number.")
    for mu, big in ((1.0, 50.0), (1.0, 100.0), (0.5, 2.0), (2.0, 2.0)):
        try:
            lr, beta = (float(v) for v in answer(mu, big))
        except Exception as err:
            raise Incorrect(f"tuning({mu}, {big}) should return two numbers (lr, beta); it raised "
                            f"{type(err).__name__}: {err}") from None
        root = math.sqrt(big / mu)
        want_lr, want_beta = (2 / (math.sqrt(big) + math.sqrt(mu))) ** 2, ((root - 1) / (root + 1)) ** 2
        if math.isclose(beta, (root - 1) / (root + 1), rel_tol=1e-6) and not math.isclose(beta, want_beta):
            raise Incorrect(f"for mu={mu}, L={big} your beta {beta:.4g} is the convergence RATE (sqrt(k)-1)/(sqrt(k)+1). "
                            "The rate is sqrt(beta) at the optimum, so beta is its square.")
        if math.isclose(lr, 2 / (mu + big), rel_tol=1e-6) and not math.isclose(lr, want_lr):
            raise Incorrect(f"for mu={mu}, L={big} your lr {lr:.4g} is 2 / (mu + L), the best rate WITHOUT momentum. "
                            "With momentum the best lr is (2 / (sqrt(L) + sqrt(mu)))**2.")
        if not (math.isclose(lr, want_lr, rel_tol=1e-6) and math.isclose(beta, want_beta, rel_tol=1e-6, abs_tol=1e-12)):
            raise Incorrect(f"for mu={mu}, L={big} you return lr={lr:.6g}, beta={beta:.6g}; the best pair is "
                            f"lr={want_lr:.6g}, beta={want_beta:.6g}. Check the hint.")


register("04", Exercise(
    name="q4",
    question="Write tuning(mu, L): for momentum (torch's v = beta v + g, p -= lr v) on a quadratic whose curvatures "
             "lie between mu and L, return the pair (lr, beta) with the fastest guaranteed convergence.",
    checker=_check_heavy_ball_tuning,
    hint_text="\"Going further: what momentum really does on a valley\" derives it: at the best pair every direction contracts by the same factor "
              "(sqrt(k) - 1) / (sqrt(k) + 1), k = L / mu, and that factor is sqrt(beta). The learning rate is "
              "(2 / (sqrt(L) + sqrt(mu)))**2.",
    solution_code="import math\n\n\n"
                  "def tuning(mu, L):\n"
                  "    root = math.sqrt(L / mu)                          # sqrt of the condition number\n"
                  "    lr = (2 / (math.sqrt(L) + math.sqrt(mu))) ** 2\n"
                  "    beta = ((root - 1) / (root + 1)) ** 2              # sqrt(beta) is the rate per step\n"
                  "    return lr, beta\n\n\n"
                  "answer = tuning\n",
    explanation="With these values both extreme curvatures sit exactly on the edge of the complex (oscillating) "
                "region, where the contraction per step is sqrt(beta); every curvature in between contracts at the "
                "same rate. Plain gradient descent at its best lr 2 / (mu + L) only reaches (k - 1) / (k + 1).",
    typical_mistake=lambda: (lambda mu, L: (2 / (mu + L), ((math.sqrt(L / mu) - 1) / (math.sqrt(L / mu) + 1)))),
    praise="the heavy-ball tuning (Polyak 1964). For k = 50 it contracts by 0.75 per step where gradient descent at "
           "its best manages 0.96: about sqrt(k) times fewer steps for the same accuracy.",
))


# ----------------------------------------------------------------------------------------------- q5: noise floor
def _check_noise_floor(answer: Any) -> None:
    if not callable(answer):
        raise Incorrect("pass a function floor(lr, curvature, noise_var), not a number.")
    for lr, curv, var in ((0.01, 1.0, 1.0), (0.1, 5.0, 2.0), (0.3, 5.0, 0.5), (0.019, 100.0, 3.0)):
        try:
            got = float(answer(lr, curv, var))
        except Exception as err:
            raise Incorrect(f"floor({lr}, {curv}, {var}) raised {type(err).__name__}: {err}") from None
        want = lr * var / (curv * (2 - lr * curv))
        if math.isclose(got, lr * var / (2 * curv), rel_tol=1e-6) and not math.isclose(got, want, rel_tol=1e-3):
            raise Incorrect(f"for lr={lr}, curvature={curv} you return lr * var / (2 * curvature), the small-lr "
                            "approximation. Solve v = (1 - lr*curvature)**2 * v + lr**2 * var exactly.")
        if math.isclose(got, curv / 2 * want, rel_tol=1e-6) and not math.isclose(got, want, rel_tol=1e-3):
            raise Incorrect(f"for lr={lr}, curvature={curv} you return E[f] = curvature / 2 * E[x^2], the mean LOSS "
                            "(the formula in the text). The question asks for the mean of x^2 itself.")
        if not math.isclose(got, want, rel_tol=1e-6):
            raise Incorrect(f"floor({lr}, {curv}, {var}) = {got:.6g}; expected {want:.6g}. Write x' = (1 - lr*c) x - "
                            "lr*noise, square, take expectations (the noise has mean 0, so the cross term goes), and "
                            "set E[x'^2] = E[x^2] = v.")


register("04", Exercise(
    name="q5",
    question="SGD with a constant learning rate on f(x) = curvature * x^2 / 2, where each gradient is the true one "
             "plus independent noise of mean 0 and variance noise_var. Write floor(lr, curvature, noise_var): the "
             "value of E[x^2] at which x settles after many steps (0 < lr * curvature < 2).",
    checker=_check_noise_floor,
    hint_text="One step: x' = x - lr * (curvature * x + noise) = (1 - lr*c) x - lr*noise. Square it, take the mean: "
              "the cross term vanishes because the noise has mean 0. At the floor the mean square no longer "
              "changes: v = (1 - lr*c)**2 v + lr**2 noise_var. Solve for v.",
    solution_code="def floor(lr, curvature, noise_var):\n"
                  "    # v = (1 - lr*c)**2 * v + lr**2 * var  =>  v = lr**2 * var / (1 - (1 - lr*c)**2)\n"
                  "    return lr * noise_var / (curvature * (2 - lr * curvature))\n\n\n"
                  "answer = floor\n",
    explanation="1 - (1 - lr c)^2 = lr c (2 - lr c), so v = lr var / (c (2 - lr c)). For small lr it is about "
                "lr * var / (2c): halving the learning rate halves the floor, which is why schedules decay it.",
    typical_mistake=lambda: (lambda lr, curvature, noise_var: lr * noise_var / (2 * curvature)),
    praise="the floor grows with the learning rate (about in proportion to it), and it never reaches 0 at a constant "
           "rate: only a decaying learning rate goes lower.",
))

"""Notebook 04's exercise checkers against the wrong answers a learner plausibly gives (review r3, 2026-12-04).

Each wrong answer must get "incorrect" with a message; each right form must get "correct".
"""

from __future__ import annotations

import math

import pytest
import torch

from utils.exercises import exercises_for

EX = exercises_for("04")


def _warm_up_torch_optim():
    """torch.optim's first step imports more of torch (seconds on a busy machine); do it outside the checkers' time
    limit, as the notebook has done by the time a learner reaches the exercises."""
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adagrad([w])
    w.grad = torch.ones(1)
    optimizer.step()


_warm_up_torch_optim()


def _adagrad_class(update, init=None):
    """A torch.optim-style class whose step() calls update(self, p, total, index) for every parameter."""

    class Candidate:
        def __init__(self, params, lr=0.01, eps=1e-10):
            self.params, self.lr, self.eps = list(params), lr, eps
            self.sums = [torch.zeros_like(p) for p in self.params]
            if init:
                init(self)

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        @torch.no_grad()
        def step(self):
            for index, (p, total) in enumerate(zip(self.params, self.sums)):
                if p.grad is not None:
                    update(self, p, total, index)

    return Candidate


def _right(self, p, total, index):
    total += p.grad**2
    p -= self.lr * p.grad / (total.sqrt() + self.eps)


def _index_lookup(self, p, total, index):  # the list.index idiom: compares tensors elementwise
    s = self.sums[self.params.index(p)]
    s += p.grad**2
    p -= self.lr * p.grad / (s.sqrt() + self.eps)


def _one_shared_sum(self, p, total, index):
    self.sums[0] += p.grad**2
    p -= self.lr * p.grad / (self.sums[0].sqrt() + self.eps)


def _fixed_lr(self, p, total, index):
    total += p.grad**2
    p -= 0.1 * p.grad / (total.sqrt() + self.eps)


def _no_sqrt(self, p, total, index):
    total += p.grad**2
    p -= self.lr * p.grad / (total + self.eps)


def _ascent(self, p, total, index):
    total += p.grad**2
    p += self.lr * p.grad / (total.sqrt() + self.eps)


def _forgetful(self, p, total, index):  # RMSprop-style average
    total.mul_(0.9).add_(0.1 * p.grad**2)
    p -= self.lr * p.grad / (total.sqrt() + self.eps)


def _update_before_accumulate(self, p, total, index):
    p -= self.lr * p.grad / (total.sqrt() + self.eps)
    total += p.grad**2


def _not_in_place(self, p, total, index):
    new = total + p.grad**2
    p -= self.lr * p.grad / (new.sqrt() + self.eps)


def _mean_not_sum(self, p, total, index):
    self.t = getattr(self, "t", 0) + 1
    total += p.grad**2
    p -= self.lr * p.grad / ((total / self.t).sqrt() + self.eps)


ADAGRAD_WRONG = {
    "list.index lookup": _adagrad_class(_index_lookup),
    "one sum shared by all tensors": _adagrad_class(_one_shared_sum),
    "learning rate hard-coded to 0.1": _adagrad_class(_fixed_lr),
    "no square root": _adagrad_class(_no_sqrt),
    "gradient ascent": _adagrad_class(_ascent),
    "running average (RMSprop)": _adagrad_class(_forgetful),
    "update before accumulating": _adagrad_class(_update_before_accumulate),
    "sum not kept between steps": _adagrad_class(_not_in_place),
    "mean instead of sum": _adagrad_class(_mean_not_sum),
    "torch.optim.Adagrad itself": torch.optim.Adagrad,
}


def test_q2_accepts_a_right_adagrad():
    assert EX.q2.check(_adagrad_class(_right)).correct


@pytest.mark.parametrize("name", list(ADAGRAD_WRONG))
def test_q2_rejects_plausible_wrong_classes(name):
    result = EX.q2.check(ADAGRAD_WRONG[name])
    assert result.status == "incorrect" and result.message, (name, result)


def test_q2_rejects_an_instance():
    instance = _adagrad_class(_right)([torch.zeros(2, requires_grad=True)])
    result = EX.q2.check(instance)
    assert result.status == "incorrect" and "class itself" in result.message


WARMUP_RIGHT = {
    "(s + 1) / 100 capped": lambda s: min(1.0, (s + 1) / 100),
    "s / 100 capped": lambda s: min(1.0, s / 100),
    "numpy scalar": lambda s: __import__("numpy").float64(min(1.0, (s + 1) / 100)),
}
WARMUP_WRONG = {
    "NaN": lambda s: float("nan"),
    "NaN after step 0": lambda s: 0.0 if s == 0 else float("nan"),
    "cosine warmup": lambda s: 0.5 * (1 - math.cos(math.pi * min(s, 100) / 100)),
    "smoothstep warmup": lambda s: (lambda t: t * t * (3 - 2 * t))(min(s, 100) / 100),
    "no cap (s / 100)": lambda s: s / 100,
    "50-step warmup": lambda s: min(1.0, (s + 1) / 50),
    "exponential": lambda s: min(1.0, 0.01 * 1.05**s),
    "step-wise": lambda s: min(1.0, (s // 10 + 1) / 10),
    "decays after 100": lambda s: min((s + 1) / 100, 100 / (s + 1)),
    "returns a string": lambda s: "0.5",
    "a number": 0.5,
    "infinite": lambda s: math.inf,
}


@pytest.mark.parametrize("name", list(WARMUP_RIGHT))
def test_q3_accepts_linear_warmups(name):
    assert EX.q3.check(WARMUP_RIGHT[name]).correct, name


@pytest.mark.parametrize("name", list(WARMUP_WRONG))
def test_q3_rejects_plausible_wrong_factors(name):
    result = EX.q3.check(WARMUP_WRONG[name])
    assert result.status == "incorrect" and result.message, (name, result)


def test_q3_rejects_a_scheduler_object_with_a_fitting_message():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 100))
    result = EX.q3.check(scheduler)
    assert result.status == "incorrect" and "scheduler object" in result.message


@pytest.mark.parametrize("answer", [2 / 40, 2 / 6, 2 / 3, 1 / 80, 2 / 86, 0.0249, float("nan"), math.inf, -0.025, 0])
def test_q1_rejects_wrong_limits(answer):
    assert EX.q1.check(answer).status == "incorrect"


@pytest.mark.parametrize("answer", [2 / 80, 1 / 40])
def test_q1_accepts_the_limit(answer):
    assert EX.q1.check(answer).correct


Q4_WRONG = {
    "gradient descent's best rate": lambda mu, L: (2 / (mu + L), ((math.sqrt(L / mu) - 1) / (math.sqrt(L / mu) + 1)) ** 2),
    "the rate as beta": lambda mu, L: ((2 / (math.sqrt(L) + math.sqrt(mu))) ** 2,
                                       (math.sqrt(L / mu) - 1) / (math.sqrt(L / mu) + 1)),
    "swapped outputs": lambda mu, L: (((math.sqrt(L / mu) - 1) / (math.sqrt(L / mu) + 1)) ** 2,
                                      (2 / (math.sqrt(L) + math.sqrt(mu))) ** 2),
    "NaN": lambda mu, L: (float("nan"), float("nan")),
    "a dict": lambda mu, L: {"lr": 0.1, "beta": 0.5},
}


@pytest.mark.parametrize("name", list(Q4_WRONG))
def test_q4_rejects_plausible_wrong_pairs(name):
    assert EX.q4.check(Q4_WRONG[name]).status == "incorrect", name


Q5_WRONG = {
    "small-lr approximation": lambda lr, c, v: lr * v / (2 * c),
    "E[f] instead of E[x^2]": lambda lr, c, v: lr * v / (2 * (2 - lr * c)),
    "(2 + lr c)": lambda lr, c, v: lr * v / (c * (2 + lr * c)),
    "standard deviation": lambda lr, c, v: math.sqrt(lr * v / (c * (2 - lr * c))),
    "NaN": lambda lr, c, v: float("nan"),
}


@pytest.mark.parametrize("name", list(Q5_WRONG))
def test_q5_rejects_plausible_wrong_floors(name):
    assert EX.q5.check(Q5_WRONG[name]).status == "incorrect", name


# The fresh reading's cases (2026-12-04, second pass): each names the mistake, not only "incorrect".


class _WrapsTorchAdagrad:
    """A class that hands the work to torch.optim.Adagrad: the update is not written by the learner."""

    def __init__(self, params, lr=0.01, eps=1e-10):
        self.inner = torch.optim.Adagrad(params, lr=lr, eps=eps)

    def zero_grad(self):
        self.inner.zero_grad()

    def step(self):
        self.inner.step()


def _no_grad_missing_class():
    class NoNoGrad:
        def __init__(self, params, lr=0.01, eps=1e-10):
            self.params, self.lr, self.eps = list(params), lr, eps
            self.sums = [torch.zeros_like(p) for p in self.params]

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        def step(self):  # no @torch.no_grad(): autograd refuses the in-place change of a leaf that requires grad
            for p, total in zip(self.params, self.sums):
                total += p.grad**2
                p -= self.lr * p.grad / (total.sqrt() + self.eps)

    return NoNoGrad


def test_q2_refuses_a_wrapper_around_torch_adagrad_and_says_to_write_the_update():
    result = EX.q2.check(_WrapsTorchAdagrad)
    assert result.status == "incorrect" and "write the update" in result.message


def test_q2_names_torch_no_grad_when_step_forgets_it():
    result = EX.q2.check(_no_grad_missing_class())
    assert result.status == "incorrect" and "no_grad" in result.message


def test_q2_names_the_running_average_of_rmsprop():
    result = EX.q2.check(ADAGRAD_WRONG["running average (RMSprop)"])
    assert result.status == "incorrect" and "average" in result.message


def test_q3_checks_steps_long_after_the_first_300():
    result = EX.q3.check(lambda s: min(1.0, (s + 1) / 100) if s < 301 else 0.0)
    assert result.status == "incorrect" and "1000" in result.message.replace(",", "")


def test_q5_names_the_mean_loss_mistake():
    result = EX.q5.check(lambda lr, c, v: c / 2 * lr * v / (c * (2 - lr * c)))  # E[f] = c/2 E[x^2]
    assert result.status == "incorrect" and "E[f]" in result.message

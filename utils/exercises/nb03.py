"""Exercises of notebook 03 (notebooks/03_autograd.ipynb): each checker, its hint, its solution and a typical
mistake."""

from __future__ import annotations

import math
from typing import Any

from .core import Exercise, Incorrect, as_number, expect_close, register

# q1: a gradient by hand; q2: .grad after two backward calls; q3: sigmoid's local derivative for the Scalar engine.
_NB03_W, _NB03_B, _NB03_X, _NB03_Y = 0.5, 0.1, 3.0, 2.0  # q1: y_hat = w x + b, L = (y_hat - y)^2
_NB03_X0 = 3.0  # q2: x = 3, y = x**2 + 2 * x, backward twice


def _nb03_number(answer: Any, what: str) -> float:
    """The answer as a float (a Python number or a one-element tensor), or ``Incorrect``: text, True/False,
    NaN and infinities are rejected as everywhere in the series (``core.as_number``)."""
    return as_number(answer, what)


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
    explanation="y_hat = 0.5 * 3 + 0.1 = 1.6, so y_hat - y = -0.4. dL/dy_hat = 2 * (y_hat - y) = -0.8 and "
                "dy_hat/dw = x = 3, so dL/dw = -0.8 * 3 = -2.4. The code lets autograd confirm it.",
    solution_code="import torch\n\n"
                  "w = torch.tensor(0.5, requires_grad=True)\n"
                  "b, x, y = 0.1, 3.0, 2.0\n"
                  "L = (w * x + b - y) ** 2\n"
                  "L.backward()\n"
                  "answer = w.grad.item()   # -2.4 = 2 * (1.6 - 2) * 3\n",
    typical_mistake=lambda: _nb03_q1_gradient(chain_rule=False),
    praise="dL/dw = 2 (y_hat - y) * x = -2.4: the outer derivative times the inner one.",
))


def _nb03_q2_grad(backward_calls: int) -> float:
    """x.grad after ``backward_calls`` forward+backward passes of y = x**2 + 2x at x = 3, never zeroed."""
    return backward_calls * (2 * _NB03_X0 + 2)


class _PrintsNone:
    """What q2's checker receives when the learner predicts ``None`` (that ``print(x.grad)`` prints None)."""


_PRINTS_NONE = _PrintsNone()


class _NoneIsAPrediction(Exercise):
    """An exercise whose answer may be ``None``: a prediction of what ``print`` shows, not a missing answer."""

    def check(self, answer: Any = None, **options: Any):
        return super().check(_PRINTS_NONE if answer is None else answer, **options)


def _nb03_check_q2(answer: Any) -> None:
    if answer is _PRINTS_NONE or (isinstance(answer, str) and answer.strip() == "None"):
        raise Incorrect("x.grad is None only until the first backward(). x requires grad, so backward() fills "
                        "x.grad, and the second call does not reset it (section 3).")
    value = _nb03_number(answer, "x.grad")
    if math.isclose(value, _nb03_q2_grad(1), rel_tol=1e-3):
        raise Incorrect("that is the gradient of one backward call. The second call does not overwrite .grad.")
    if math.isclose(value, _NB03_X0**2 + 2 * _NB03_X0, rel_tol=1e-3):
        raise Incorrect("that is the value of y, not its gradient with respect to x.")
    expect_close(value, _nb03_q2_grad(2), what="your x.grad")


register("03", _NoneIsAPrediction(
    name="q2",
    question="x = torch.tensor(3.0, requires_grad=True); two times: y = x**2 + 2*x; y.backward(). "
             "What is x.grad afterwards?",
    checker=_nb03_check_q2,
    hint_text="dy/dx = 2x + 2. Each loop iteration builds a new graph, so the second backward() is allowed. "
              "Does it replace .grad or add to it (section 3)?",
    explanation="dy/dx = 2x + 2 = 8 at x = 3. backward() adds into .grad and nothing zeroes it in between, so "
                "after two calls x.grad = 8 + 8 = 16.",
    solution_code="import torch\n\n"
                  "x = torch.tensor(3.0, requires_grad=True)\n"
                  "for _ in range(2):\n"
                  "    y = x**2 + 2 * x\n"
                  "    y.backward()\n"
                  "answer = x.grad.item()   # 8 + 8 = 16\n",
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
            returned = answer(s)
        except Exception as err:  # the learner's code may fail in any way: report it, don't crash
            raise Incorrect(f"calling your function with s = {s} raised {type(err).__name__}: {err}") from None
        if returned is None:
            raise Incorrect(f"for s = {s} your function returned None: did you forget `return` (or use print "
                            "instead of return)?")
        got = _nb03_number(returned, f"what your function returns for s = {s}")
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
    explanation="ds/du = e^-u / (1 + e^-u)^2 = s * (1 - s), because 1 / (1 + e^-u) = s and e^-u / (1 + e^-u) "
                "= 1 - s. In the notebook's engine: def sigmoid(self): s = 1 / (1 + math.exp(-self.data)); "
                "return Scalar(s, (self,), (s * (1 - s),), \"sigmoid\").",
    solution_code="answer = lambda s: s * (1 - s)\n",
    typical_mistake=lambda: (lambda s: _nb03_sigmoid(s) * (1 - _nb03_sigmoid(s))),
    praise="ds/du = s (1 - s): the backward pass reuses the forward pass's output, no exp needed.",
))

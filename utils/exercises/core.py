"""The core of the exercises: ``Exercise``, ``CheckResult``, the registry and small helpers for checkers.

Exercises with checkers, in the style of ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.

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
    """One exercise: ``checker(answer)`` raises ``Incorrect(reason)`` for a wrong answer.

    The solution exists once, as ``solution_code``: runnable Python that ends by setting ``answer``.
    ``solution()`` prints ``explanation`` (prose: why) and then that code; ``reference()`` runs the same code
    and returns its ``answer``, so the tests check exactly the solution a learner is shown.
    ``typical_mistake`` builds a wrong answer that the checker must reject.
    """

    name: str
    question: str
    checker: Callable[[Any], None]
    hint_text: str
    solution_code: str
    typical_mistake: Callable[[], Any]
    explanation: str = ""
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

    def reference(self) -> Any:
        """Run ``solution_code`` in a fresh namespace and return the ``answer`` it sets."""
        namespace: dict[str, Any] = {}
        exec(compile(self.solution_code, f"<solution of {self.name}>", "exec"), namespace)  # noqa: S102
        if "answer" not in namespace:
            raise RuntimeError(f"the solution of {self.name} must end by setting `answer`")
        return namespace["answer"]

    def solution(self) -> None:
        text = (self.explanation.rstrip() + "\n\n") if self.explanation else ""
        print(f"Solution ({self.name}):\n{text}{self.solution_code.rstrip()}")


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

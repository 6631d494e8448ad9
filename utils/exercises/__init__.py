"""Exercises with checkers, in the style of ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.

The core (``Exercise``, ``CheckResult``, the registry) is in ``core.py``; each notebook's exercises are in their
own module, ``nb01.py`` ... In a notebook::

    ex = utils.exercises.exercises_for("01")
    answer = ...            # the learner replaces ... with their answer
    ex.q1.check(answer)     # correct / incorrect, with a reason / not yet attempted
    ex.q1.hint()
    ex.q1.solution()
"""

from . import nb01, nb02, nb03, nb03b, nb04, nb05, nb05b, nb06, nb07  # noqa: E402,F401  (each module registers its exercises)
from .core import (
    CheckResult,
    Exercise,
    Incorrect,
    all_exercises,
    as_number,
    as_whole_number,
    call_answer,
    exercises_for,
    expect_close,
    register,
)

__all__ = ["CheckResult", "Exercise", "Incorrect", "all_exercises", "as_number", "as_whole_number", "call_answer",
           "exercises_for", "expect_close", "register"]

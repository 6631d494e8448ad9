"""The core of the exercises: ``Exercise``, ``CheckResult``, the registry and small helpers for checkers.

Exercises with checkers, in the style of ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.

Explained in notebooks/06_putting_it_all_together.ipynb; every notebook 01-07 ends with at least two.
In a notebook::

    ex = exercises_for("01")
    answer = ...            # the learner replaces ... with their answer
    ex.q1.check(answer)     # correct / incorrect, with a reason / not yet attempted
    ex.q1.hint()
    ex.q1.solution()

A checker never reads notebook globals: the answer is passed in. Each exercise also carries a
``reference`` (builds a correct answer) and a ``typical_mistake`` (builds a wrong one) so the tests can
prove that every checker accepts the one and rejects the other; tests/test_checker_catalogue.py adds, for
every exercise, plausible wrong answers and hostile ones.

Whatever the answer, ``check`` returns a verdict in words (``CheckResult``) and never raises: the checker
runs inside a guard (``_run_guarded``) that turns an exception, ``sys.exit()`` and an endless loop into an
"Incorrect" with the reason, and puts back what the learner's code may have changed in the process (the
random number generators, autograd switched off). Ctrl-C (``KeyboardInterrupt``) still interrupts. A
"Correct" needs the checker to finish without objection, and the helpers below (``as_number``,
``expect_close``) turn an answer into a plain ``float`` *before* comparing it with the reference, so an
object whose ``__eq__`` always says True cannot pass for a number.
"""

from __future__ import annotations

import math
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

NOT_ANSWERED = (None, Ellipsis)
TIME_LIMIT_ENV_VAR = "OPTIM_CHECK_TIME_LIMIT"
DEFAULT_TIME_LIMIT = 10.0  # seconds for one check: every checker takes under 0.1 s once torch is warm


class Incorrect(Exception):
    """Raised by a checker with the reason the answer is wrong (shown to the learner)."""


class _TimeLimit(BaseException):
    """Raised inside a check that ran past its time limit. A BaseException, so that a checker's or a learner's
    ``except Exception`` does not swallow it."""


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


def default_time_limit() -> float:
    """Seconds one ``check`` may take: ``OPTIM_CHECK_TIME_LIMIT`` if set, otherwise 10."""
    try:
        return float(os.environ.get(TIME_LIMIT_ENV_VAR) or DEFAULT_TIME_LIMIT)
    except ValueError:
        return DEFAULT_TIME_LIMIT


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

    def check(self, answer: Any = None, *, time_limit: float | None = None) -> CheckResult:
        """The verdict on ``answer``, in words. Never raises (except on Ctrl-C), and stops the learner's code after
        ``time_limit`` seconds (default: ``default_time_limit()``; time spent importing modules does not count,
        and code stuck inside one long C call, a huge tensor operation say, is stopped when that call returns)."""
        if answer is Ellipsis:
            return CheckResult("not attempted", "replace the `...` with your answer and run the cell again.")
        if answer is None:
            return CheckResult("not attempted", "your answer is None. Replace the `...` with your answer and run "
                                                "the cell again; if it came from a function, did it `return` it?")
        limit = default_time_limit() if time_limit is None else float(time_limit)
        reason = _run_guarded(self.checker, answer, limit)
        if reason is not None:
            return CheckResult("incorrect", reason)
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


# ----------------------------------------------------------------------------------------------- the guard
def _describe(err: BaseException) -> str:
    """``ZeroDivisionError: division by zero``, shortened; never raises (a learner's exception may be hostile)."""
    try:
        text = str(err)
    except Exception:  # noqa: BLE001  (an exception whose __str__ fails)
        text = ""
    text = text if len(text) <= 300 else text[:300] + " ..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _verdict(checker: Callable[[Any], None], answer: Any) -> str | None:
    """Run the checker; ``None`` when it has no objection, otherwise the reason in words. Lets ``_TimeLimit``
    and ``KeyboardInterrupt`` through."""
    try:
        checker(answer)
    except Incorrect as reason:
        try:
            return str(reason) or "that is not it (check the hint)."
        except Exception:  # noqa: BLE001
            return "that is not it (check the hint)."
    except SystemExit:
        return ("your code called sys.exit() (or exit()), which would stop the whole notebook: return a value "
                "instead.")
    except OverflowError:
        return "your answer, or a number computed from it, is too large for a float (more than about 1.8e308): not it."
    except RecursionError:
        return "your code calls itself without end (RecursionError): does your function call itself by mistake?"
    except Exception as err:  # noqa: BLE001  (any other failure of the learner's code, reported, never raised)
        return (f"checking your answer raised {_describe(err)}. If you passed a function, call it once yourself "
                "and read the error; if you passed a value, is it the kind of value the question asks for?")
    return None


class _LearnerState:
    """What a learner's code may change for the whole kernel, saved before a check and put back after it:
    the random generators of Python, NumPy and torch, and whether autograd is on."""

    def __init__(self) -> None:
        import numpy as np
        import torch

        self.python = random.getstate()
        self.numpy = np.random.get_state()
        self.torch = torch.random.get_rng_state()
        self.grad = torch.is_grad_enabled()

    def restore(self) -> str | None:
        """Put everything back; a sentence when the learner's code had switched autograd off (or on)."""
        import numpy as np
        import torch

        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.random.set_rng_state(self.torch)
        changed = torch.is_grad_enabled() != self.grad
        torch.set_grad_enabled(self.grad)
        if not changed:
            return None
        return ("your code switched autograd off (or on) for the whole notebook (torch.set_grad_enabled(...) or "
                "torch.no_grad() called without `with`), so the next training would fail. Use "
                "`with torch.no_grad():` around the loop instead. (The check has switched it back.)")


def _run_guarded(checker: Callable[[Any], None], answer: Any, limit: float) -> str | None:
    """``checker(answer)`` under a time limit, with the learner's global state put back afterwards.

    The time limit: Python code cannot be killed from another thread, so on POSIX, in the main thread (where
    a notebook runs its cells), a SIGALRM timer looks at the running code every quarter second and, once the
    limit has passed, raises ``_TimeLimit`` inside it (again at the next look if the learner's code swallowed
    it with a bare ``except:``). It never interrupts an ``import`` (a module interrupted half-way would stay
    broken for the whole kernel), and time spent importing does not count. Elsewhere
    (Windows, or a check called from a thread), the checker runs in a daemon thread that is abandoned after
    the limit: the check returns its verdict on time, and the endless loop keeps running in the background
    until the kernel restarts, which the message says. A subprocess would kill it cleanly, but it cannot
    receive the learner's lambdas and classes (they do not pickle), so it is not used.
    """
    state = _LearnerState()
    try:
        if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
            reason = _with_alarm(checker, answer, limit)
        else:
            reason = _in_thread(checker, answer, limit)
    finally:
        grad_reason = state.restore()
    return reason if reason is not None or grad_reason is None else grad_reason


def _too_slow(limit: float) -> str:
    return (f"your answer did not finish within {limit:g} seconds: an endless loop (a `while` whose condition never "
            "becomes False), or a function that waits for something?")


def _importing(frame) -> bool:
    """Whether the interrupted code is inside ``import`` (importlib's frozen bootstrap is on the stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


_TICK = 0.25  # seconds between two looks of the timer at the running check


def _with_alarm(checker: Callable[[Any], None], answer: Any, limit: float) -> str | None:
    started = time.monotonic()
    in_imports = [0.0]  # seconds spent in imports, which do not count against the limit

    def on_alarm(signum, frame):
        if _importing(frame):  # never break an import half-way (it would leave a broken module behind),
            in_imports[0] += _TICK  # and do not count its time: a first check may import half of torch
            return
        if time.monotonic() - started - in_imports[0] >= limit:
            raise _TimeLimit

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    signal.siginterrupt(signal.SIGALRM, False)  # a look of the timer restarts a system call in C (torch's file I/O)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, min(_TICK, max(limit, 1e-3)), _TICK)
    try:
        try:
            return _verdict(checker, answer)
        finally:  # disarm first, so that no late alarm escapes from this function
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _TimeLimit:
        return _too_slow(limit)
    finally:
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:  # an outer timer (pytest-timeout, say) was running: re-arm what is left of it
            left = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), previous_interval)


def _in_thread(checker: Callable[[Any], None], answer: Any, limit: float) -> str | None:
    outcome: list[str | None] = []

    def run() -> None:
        try:
            outcome.append(_verdict(checker, answer))
        except BaseException as err:  # noqa: BLE001  (KeyboardInterrupt cannot reach this thread)
            outcome.append(f"checking your answer raised {_describe(err)}")

    worker = threading.Thread(target=run, name="exercise-check", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        return _too_slow(limit) + " It may still be running in the background: restart the kernel if the notebook " \
                                   "becomes slow."
    return outcome[0] if outcome else "the check did not finish."


# ----------------------------------------------------------------------------------------------- the registry
_REGISTRY: dict[str, dict[str, Exercise]] = {}


def register(notebook: str, exercise: Exercise) -> Exercise:
    _REGISTRY.setdefault(notebook, {})[exercise.name] = exercise
    return exercise


def exercises_for(notebook: str) -> SimpleNamespace:
    """The exercises of one notebook (``"01"`` ... ``"07"``) as attributes: ``ex.q1``, ``ex.q2`` ..."""
    if notebook not in _REGISTRY:
        raise ValueError(f"no exercises for notebook {notebook!r}; known: {', '.join(sorted(_REGISTRY))}")
    return SimpleNamespace(**_REGISTRY[notebook])


def all_exercises() -> list[tuple[str, Exercise]]:
    return [(nb, ex) for nb in sorted(_REGISTRY) for ex in _REGISTRY[nb].values()]


# ----------------------------------------------------------------------------------------------- helpers for checkers
def as_number(value: Any, what: str = "the answer") -> float:
    """``value`` as a plain, finite ``float``, or ``Incorrect`` saying what was expected.

    Accepts Python numbers, NumPy scalars and one-element tensors or arrays. Rejects text (``"0.4"``: write the
    number without quotes), ``True``/``False``, NaN, infinities and numbers too large for a float. The result is
    a builtin ``float``, so comparing it with the reference runs float's own ``==``, never the answer's.
    """
    if isinstance(value, (str, bytes)):
        raise Incorrect(f"{what} should be a number, but it is text ({value!r:.40}): write the number without quotes.")
    if isinstance(value, bool):
        raise Incorrect(f"{what} should be a number, not {value}.")
    try:
        if getattr(value, "ndim", 0) and getattr(value, "size", None) == 1 and callable(getattr(value, "item", None)):
            value = value.item()  # a NumPy array of one element: NumPy 2 refuses float() of it
        number = float(value)
    except OverflowError:
        raise Incorrect(f"{what} is too large to be a float (more than about 1.8e308): not it.") from None
    except Exception:  # noqa: BLE001  (TypeError, ValueError, a tensor of several elements, a hostile __float__)
        raise Incorrect(f"{what} should be a number, got {type(value).__name__}") from None
    number = float.__float__(number) if isinstance(number, float) else math.nan  # a plain float, whatever it was
    if math.isnan(number):
        raise Incorrect(f"{what} is NaN (not a number): a computation went wrong along the way.")
    if math.isinf(number):
        raise Incorrect(f"{what} is infinite: a computation overflowed or divided by zero.")
    return number


def as_whole_number(value: Any, what: str = "the answer") -> int:
    """``value`` as an ``int`` when it is a whole number up to rounding error (``64 ** (1/3)`` is
    3.9999999999999996: that is 4), or ``Incorrect`` saying that a whole number was expected."""
    number = as_number(value, what)
    nearest = round(number)
    if abs(number - nearest) > 1e-9 * max(1.0, abs(number)):
        raise Incorrect(f"{what} should be a whole number, got {number:g}.")
    return int(nearest)


def call_answer(function: Any, *args: Any, what: str = "your function") -> Any:
    """``function(*args)``, with any exception the learner's code raises turned into ``Incorrect`` that names the
    arguments. The result is the learner's object: convert it (``as_number``, ``torch.as_tensor``) before
    comparing it with anything."""
    if not callable(function):
        raise Incorrect(f"the answer should be a function, got {type(function).__name__}")
    try:
        return function(*args)
    except Exception as err:  # noqa: BLE001  (a learner's code may fail in any way)
        shown = ", ".join(_short_repr(a) for a in args)
        raise Incorrect(f"{what}({shown}) raised {_describe(err)}") from None


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def expect_close(value: Any, expected: float, *, what: str, rel: float = 1e-3, abs_tol: float = 1e-6) -> None:
    """Raise ``Incorrect`` unless ``value`` is a number close to ``expected``."""
    number = as_number(value, what)
    if not math.isclose(number, expected, rel_tol=rel, abs_tol=abs_tol):
        raise Incorrect(f"{what} is {number:.6g}; that is not it (check the hint).")

"""Exercises of notebook 05 (notebooks/05_hyperparameters.ipynb): checkers, hints, solutions, typical mistakes."""

from __future__ import annotations

import math
from typing import Any

from .core import Exercise, Incorrect, as_number, as_whole_number, expect_close, register


def _nb05_check_scaled_lr(answer: Any) -> None:
    value = as_number(answer, "the answer (a learning rate)")
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
    solution_code="answer = 0.05 * 512 / 64   # 0.4\n",
    explanation="The batch grew by k = 512 / 64 = 8, so the learning rate grows by 8 too.",
    typical_mistake=lambda: 0.05 * math.sqrt(8),
    praise="0.4. In practice, start the large learning rate with a short warm-up: the rule holds once training "
           "has settled, and it breaks down when k x lr passes the stability limit.",
))


def _nb05_check_batch_for_noise(answer: Any) -> None:
    value = as_whole_number(answer, "the answer (a batch size)")  # a batch size is a whole number: 512.4 is not
    if value == 128:
        raise Incorrect("128 is 4x the batch, which divides the variance by 4 but the spread only by sqrt(4) = 2.")
    expect_close(value, 512, what="your batch size", rel=0, abs_tol=0)


register("05", Exercise(
    name="q2",
    question="With batch size 32 the minibatch gradients scatter around the full-batch gradient with a spread "
             "(root-mean-square distance) of 0.6. Which batch size brings the spread down to 0.15?",
    checker=_nb05_check_batch_for_noise,
    hint_text="The spread falls like 1 / sqrt(B). To divide it by 4, by what factor must B grow?",
    solution_code="answer = 32 * (0.6 / 0.15) ** 2   # 32 * 16 = 512\n",
    explanation="The spread falls like 1 / sqrt(B): 0.6 / 0.15 = 4 = sqrt(B / 32), so B = 32 * 4**2.",
    typical_mistake=lambda: 128,
    praise="512: sixteen times the batch (and about sixteen times the computation per step) for a quarter of the "
           "noise. That is why ever larger batches stop paying off.",
))

def _fine_sweep() -> tuple[list[float], list[float]]:
    """A realistic sweep: 50 learning rates a constant factor (about 1.33) apart, flat, falling, then blowing up.

    Spacing finer than a decade catches "the point before the minimum" (lrs[i - 1]), which coincides with a
    tenth of the minimum's learning rate only when the points are exactly a decade apart."""
    lrs = [1e-5 * 10 ** (6 * i / 49) for i in range(50)]
    smoothed = []
    for lr in lrs:
        x = math.log10(lr)
        falling = 2.3 - 1.6 / (1 + math.exp(-3 * (x + 2.5)))  # flat at 2.3, down to about 0.7 past lr 0.01
        smoothed.append(falling + (0.0 if x < -1 else 4 * (x + 1) ** 2))  # blows up past lr 0.1
    return lrs, smoothed


_NB05_CURVES = (
    ([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], [2.30, 2.30, 2.25, 1.60, 1.10, 9.00]),
    ([1e-4, 1e-3, 1e-2, 1e-1, 1.0], [2.3, 2.0, 1.2, 0.9, float("nan")]),  # the sweep ended on a NaN
    ([0.001, 0.01, 0.1], [1.0, 0.5, 0.7]),
    _fine_sweep(),
    # a non-finite value before the minimum: built-in min() and np.argmin both stop at a NaN in first place
    ([1e-4, 1e-3, 1e-2, 1e-1, 1.0], [float("nan"), 2.2, 1.4, 0.8, 3.0]),
    ([1e-4, 1e-3, 1e-2, 1e-1, 1.0], [2.3, float("inf"), 1.4, 0.8, 3.0]),
)


def _nb05_check_suggest(answer: Any) -> None:
    from ..lr_finder import suggest_lr

    if not callable(answer):
        raise Incorrect(f"the answer should be a function suggest(lrs, smoothed), got {type(answer).__name__}")
    for lrs, smoothed in _NB05_CURVES:
        shown = f"lrs={_short(lrs)}, smoothed={_short(smoothed)}"
        try:
            result = answer(list(lrs), list(smoothed))
        except Exception as err:  # the learner's code failed: say how, do not crash the check
            raise Incorrect(f"suggest({shown}) raised {type(err).__name__}: {err}") from None
        if result is None:
            raise Incorrect("your function returns None: end it with `return ...` (a learning rate).")
        if isinstance(result, (str, bytes, bool)):  # float("0.01") would parse text: a learning rate is a number
            raise Incorrect(f"suggest({shown}) returned {type(result).__name__} {result!r}, not a learning rate: "
                            "return the number itself.")
        try:
            got = float(result)
        except (TypeError, ValueError, OverflowError):
            raise Incorrect(f"suggest({shown}) returned {type(result).__name__}, not a learning rate") from None
        expected = suggest_lr(lrs, smoothed)
        lowest = expected * 10
        i = min(range(len(lrs)), key=lambda j: abs(math.log(lrs[j] / lowest)))  # the minimum's position
        if not math.isfinite(got):
            raise Incorrect(f"for {shown} you return {got}: a NaN loss must be skipped, not chosen.")
        picked_nan = [j for j, v in enumerate(smoothed) if not math.isfinite(v)
                      and any(math.isclose(got, lrs[j] / d, rel_tol=1e-6) for d in (1, 10))]
        if picked_nan and not math.isclose(got, expected, rel_tol=1e-6):
            raise Incorrect(f"for {shown} you return {got:g}: that comes from the learning rate where the loss is "
                            f"{smoothed[picked_nan[0]]}. A non-finite loss must be skipped (np.argmin and min() "
                            "both can pick a NaN): replace it by +inf first.")
        if math.isclose(got, expected * 10, rel_tol=1e-6):
            raise Incorrect(f"for {shown} you return {got:g}, the learning rate at the lowest loss. "
                            "There the loss is about to turn up: take a tenth of it.")
        if i > 0 and math.isclose(got, lrs[i - 1], rel_tol=1e-6) and not math.isclose(got, expected, rel_tol=1e-6):
            raise Incorrect(f"for {shown} you return {got:g}, the learning rate one point before the minimum. "
                            "The rule is a tenth of the minimum's learning rate; the two agree only when the "
                            "points are exactly a decade apart.")
        if not math.isclose(got, expected, rel_tol=1e-6):
            if all(math.isfinite(v) for v in smoothed):  # nothing to skip here: the rule itself differs
                raise Incorrect(f"for {shown} you return {got:g}; expected {expected:g}. This curve has no NaN: "
                                "find the lowest smoothed loss, and return a tenth of the learning rate there.")
            raise Incorrect(f"for {shown} you return {got:g}; expected {expected:g}. "
                            "Does your function skip losses that are NaN or infinite (anywhere, even the first)?")


def _short(values) -> str:
    """A curve as the message shows it: the first and last three values of a long one."""
    shown = [f"{v:.3g}" for v in values]
    return "[" + ", ".join(shown if len(shown) <= 8 else shown[:3] + ["..."] + shown[-3:]) + "]"


register("05", Exercise(
    name="q3",
    question="Write suggest(lrs, smoothed): the learning rate a range test suggests, a tenth of the learning "
             "rate at which the smoothed loss is lowest. Ignore losses that are NaN or infinite.",
    checker=_nb05_check_suggest,
    hint_text="numpy's argmin finds the position of the smallest value, but a NaN counts as the smallest: replace "
              "non-finite values by +inf first (np.isfinite, np.where).",
    solution_code="import numpy as np\n\n\n"
                  "def suggest(lrs, smoothed):\n"
                  "    values = np.asarray(smoothed, dtype=float)\n"
                  "    values = np.where(np.isfinite(values), values, np.inf)   # a NaN must not win argmin\n"
                  "    return lrs[int(np.argmin(values))] / 10\n\n\n"
                  "answer = suggest   # the same rule as utils.lr_finder.suggest_lr\n",
    explanation="Replace non-finite losses by +inf so that argmin never picks them, find the lowest smoothed loss, "
                "and step back by a factor of ten from the learning rate where it sits.",
    typical_mistake=lambda: _nb05_suggest_mistake,
    praise="your rule agrees with utils.lr_finder.suggest_lr on every test curve.",
))


def _nb05_suggest_mistake(lrs, smoothed):
    import numpy as np

    return lrs[int(np.argmin(smoothed))]  # the minimum itself, and a NaN wins argmin

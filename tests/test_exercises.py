"""Every exercise checker accepts its reference answer, rejects a typical mistake, and knows 'not attempted'."""

from __future__ import annotations

import pytest

from utils.exercises import CheckResult, Exercise, Incorrect, all_exercises, exercises_for

EXERCISES = all_exercises()


@pytest.mark.parametrize("notebook,exercise", EXERCISES, ids=[f"{nb}-{ex.name}" for nb, ex in EXERCISES])
def test_checker_accepts_reference_and_rejects_typical_mistake(notebook, exercise):
    assert exercise.check(exercise.reference()).correct
    wrong = exercise.check(exercise.typical_mistake())
    assert wrong.status == "incorrect" and wrong.message
    assert exercise.check(...).status == "not attempted"


def test_every_notebook_has_two_exercises():
    for notebook in ("01", "02", "03", "04", "05", "06", "07"):
        assert len(vars(exercises_for(notebook))) >= 2, f"notebook {notebook} needs at least two exercises"


def test_framework_messages(capsys):
    def checker(answer):
        if answer != 4:
            raise Incorrect("2 + 2 is not " + str(answer))

    ex = Exercise("q1", "2 + 2?", checker, "count", "answer = 4", lambda: 5, explanation="two and two")
    assert repr(ex.check(4)).startswith("Correct")
    assert repr(ex.check(5)) == "Incorrect: 2 + 2 is not 5"
    assert isinstance(ex.check(None), CheckResult) and ex.check(None).status == "not attempted"
    ex.hint()
    ex.solution()
    out = capsys.readouterr().out
    assert "count" in out and "answer = 4" in out and "two and two" in out
    assert ex.reference() == 4
    with pytest.raises(ValueError, match="no exercises for notebook '99'"):
        exercises_for("99")



@pytest.mark.parametrize("notebook,exercise", EXERCISES, ids=[f"{nb}-{ex.name}" for nb, ex in EXERCISES])
def test_printed_solution_runs_and_passes_its_checker(notebook, exercise, capsys):
    """The code ``solution()`` prints, pasted into a fresh namespace as a learner would, sets a correct ``answer``."""
    exercise.solution()
    printed = capsys.readouterr().out
    assert exercise.solution_code.strip() in printed, "solution() must print the code that the test runs"
    namespace: dict = {}
    exec(compile(exercise.solution_code, f"<solution {notebook} {exercise.name}>", "exec"), namespace)
    assert "answer" in namespace, f"the solution of {notebook} {exercise.name} must end by setting `answer`"
    result = exercise.check(namespace["answer"])
    assert result.correct, f"{notebook} {exercise.name}: its own printed solution is judged {result!r}"


# ----------------------------------------------------------------- notebooks 05 and 05b: plausible wrong answers
def _nb05_verdict(notebook, name, answer):
    return getattr(exercises_for(notebook), name).check(answer)


def test_nb05_q3_rejects_the_point_before_the_minimum_and_builtin_min_with_nan():
    import numpy as np

    def right(lrs, smoothed):
        values = np.where(np.isfinite(smoothed), smoothed, np.inf)
        return lrs[int(np.argmin(values))] / 10

    def point_before(lrs, smoothed):  # "the point before the minimum": right only on decade-spaced curves
        values = np.where(np.isfinite(smoothed), smoothed, np.inf)
        return lrs[int(np.argmin(values)) - 1]

    def builtin_min(lrs, smoothed):  # no NaN handling: min() keeps a NaN that comes first
        return lrs[smoothed.index(min(smoothed))] / 10

    def returns_none(lrs, smoothed):
        pass

    assert _nb05_verdict("05", "q3", right).correct
    for wrong, says in ((point_before, "one point before"), (builtin_min, "NaN"), (returns_none, "returns None"),
                        (lambda lrs, s: lrs[int(np.argmin(s))] / 10, "NaN"), (lambda lrs, s: [0.1], "not a learning")):
        verdict = _nb05_verdict("05", "q3", wrong)
        assert verdict.status == "incorrect" and says in verdict.message, (wrong, verdict)


def test_nb05_q1_q2_wrong_answers():
    assert _nb05_verdict("05", "q1", 0.4).correct
    for wrong in (0.05 * 8 ** 0.5, 0.05 / 8, 0.05, 0.45, float("nan"), 10**400):
        assert _nb05_verdict("05", "q1", wrong).status == "incorrect", wrong
    assert _nb05_verdict("05", "q2", 512).correct
    for wrong in (128, 64, 32 * 4, 2048, 8):
        assert _nb05_verdict("05", "q2", wrong).status == "incorrect", wrong


def test_nb05b_q1_accepts_the_cube_root_as_computed():
    assert _nb05_verdict("05b", "q1", 64 ** (1 / 3)).correct  # 3.9999999999999996
    assert _nb05_verdict("05b", "q1", 4).correct
    for wrong, says in ((64, "random search"), (64 / 3, "multiplied"), (3, "27"), (8, "512"), (16, "k ** 3")):
        verdict = _nb05_verdict("05b", "q1", wrong)
        assert verdict.status == "incorrect" and says in verdict.message, (wrong, verdict)


def test_nb05b_q2_targets_retraining_from_scratch():
    assert _nb05_verdict("05b", "q2", 63).correct
    for wrong, says in ((81, "from scratch"), (243, "without halving"), (39, "counts runs"), (21, "27"),
                        (27, "every rung"), (117, "not it")):
        verdict = _nb05_verdict("05b", "q2", wrong)
        assert verdict.status == "incorrect" and says in verdict.message, (wrong, verdict)


# ----------------------------------------------------------------------------------------------- 06 and 07: wrong answers
def _nb06_q2_answers():
    import torch
    from torch import nn

    import utils

    def safe(path, build):
        model = build()
        utils.load_checkpoint(path, model)
        return model.eval()

    def default_load(path, build):  # torch >= 2.6: weights_only=True by default, so this is safe too
        model = build()
        model.load_state_dict(torch.load(path)["model"])
        return model.eval()

    def aliased_unsafe(path, build):
        from torch import load as tload
        model = build()
        model.load_state_dict(tload(path, weights_only=False)["model"])
        return model.eval()

    def serialization_unsafe(path, build):
        model = build()
        model.load_state_dict(torch.serialization.load(path, weights_only=False)["model"])
        return model.eval()

    def no_eval(path, build):
        model = build()
        utils.load_checkpoint(path, model)
        return model

    def dropout_only_eval(path, build):
        model = build()
        utils.load_checkpoint(path, model)
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.eval()
        return model

    def fresh_weights(path, build):
        return build().eval()

    def returns_checkpoint(path, build):
        return utils.load_checkpoint(path)

    def raises(path, build):
        raise RuntimeError("boom")

    right = [safe, default_load]
    wrong = [aliased_unsafe, serialization_unsafe, no_eval, dropout_only_eval, fresh_weights, returns_checkpoint,
             raises, "restore_for_inference", 10**400, float("nan")]
    return right, wrong


def test_nb06_q2_catalogue():
    ex = exercises_for("06")
    right, wrong = _nb06_q2_answers()
    for answer in right:
        assert ex.q2.check(answer).correct, answer
    for answer in wrong:
        result = ex.q2.check(answer)
        assert not result.correct and result.message, answer
    assert "ran it" in ex.q2.check(wrong[0]).message and "ran it" in ex.q2.check(wrong[1]).message
    assert "model.training" in ex.q2.check(wrong[3]).message  # the message fits the answer


def test_nb07_catalogue():
    import torch.nn.functional as F

    ex = exercises_for("07")
    assert ex.q2.check([2, 5, 8, 0]).correct and ex.q2.check((2, 5, 8, 0)).correct
    for wrong in ([2.5, 5, 8, 0], "2580", [2, 5, 8], [0, 2, 5, 8], [2, 6, 0], [True, 5, 8, 0], [2, 5, 8, 0, 1],
                  float("nan"), 10**400):
        result = ex.q2.check(wrong)
        assert not result.correct and result.message, wrong

    def summed(logits, targets, n, world):
        return F.cross_entropy(logits, targets, reduction="sum")

    def own_mean(logits, targets, n, world):
        return F.cross_entropy(logits, targets)

    def twice_w(logits, targets, n, world):
        return F.cross_entropy(logits, targets, reduction="sum") * world * world / n

    def per_sample(logits, targets, n, world):
        return F.cross_entropy(logits, targets, reduction="none") * world / n

    def a_float(logits, targets, n, world):
        return 3.0

    messages = {f.__name__: ex.q1.check(f).message for f in (summed, own_mean, twice_w, per_sample, a_float)}
    assert "N / W" in messages["summed"] and "own mean" in messages["own_mean"]
    assert "once too often" in messages["twice_w"] and "single-number tensor" in messages["per_sample"]
    assert not ex.q1.check(a_float).correct

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

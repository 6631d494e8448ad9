"""Notebooks 06 and 07's checkers: the wrong verdicts a fresh reading found (review of 2026-12-04, 0607-7, 0607-8)."""

from __future__ import annotations

import pytest
import torch

from utils.exercises import exercises_for


def test_06_q1_rejects_an_answer_hard_coded_for_the_3x3_matrix():
    """0607-7: the numbers of the 3x3 test matrix, returned whatever the input, are right there and wrong on the
    checker's second (seeded 5x5) matrix."""
    q1 = exercises_for("06").q1
    hard_coded = q1.check(lambda c: torch.tensor([50 / 55, 30 / 40, 10 / 20]))
    assert hard_coded.status == "incorrect" and "5x5" in hard_coded.message, hard_coded

    def three_classes(c):
        c = torch.as_tensor(c, dtype=torch.float64)
        return torch.stack([c[i, i] / c[i].sum() for i in range(3)])

    assert "5x5" in q1.check(three_classes).message
    assert q1.check(lambda c: c.double().diagonal() / c.double().sum(dim=1)).correct


@pytest.mark.parametrize("notebook,right", [("06", "785"), ("07", "0.4")])
def test_a_right_number_given_as_text_is_rejected(notebook, right):
    """0607-8: "785" (06 q3) and "0.4" (07 q3) as text are wrong answers: the number, without quotes."""
    q3 = exercises_for(notebook).q3
    result = q3.check(right)
    assert result.status == "incorrect" and "without quotes" in result.message, result
    assert q3.check(float(right)).correct


def test_07_q1_accepts_a_loss_of_shape_1_and_names_a_detached_loss():
    """A fresh reading (2026-12-05): a right loss of shape (1,) was refused, and a detached loss got a message
    about its shape instead of the missing graph."""
    q1 = exercises_for("07").q1

    def right(logits, y, n, world):
        return torch.nn.functional.cross_entropy(logits, y, reduction="sum") * world / n

    assert q1.check(right).correct
    assert q1.check(lambda logits, y, n, world: right(logits, y, n, world).reshape(1)).correct
    detached = q1.check(lambda logits, y, n, world: right(logits, y, n, world).detach())
    assert detached.status == "incorrect" and "grad_fn" in detached.message, detached


def test_07_q2_accepts_the_right_indices_as_a_numpy_array_or_a_tensor():
    """A fresh reading (2026-12-05b, objection 2): [2, 5, 8, 0] worked out with NumPy (`np.arange(12)[2::3] % 11`)
    or as a tensor was "Incorrect ... got ndarray". Any 1-D array of whole numbers is an answer; floats, bools and
    a 2-D array are still refused with a reason."""
    import numpy as np

    q2 = exercises_for("07").q2
    for right in (np.array([2, 5, 8, 0]), np.arange(12)[2::3] % 11, torch.tensor([2, 5, 8, 0]),
                  np.array([2, 5, 8, 0], dtype=np.uint8), [np.int64(2), 5, 8, 0], (2, 5, 8, 0)):
        result = q2.check(right)
        assert result.correct, (right, result)
    for wrong, why in ((np.array([2.0, 5.0, 8.0, 0.0]), "whole numbers"), (torch.tensor([2.0, 5.0, 8.0, 0.0]), "whole numbers"),
                       (np.array([True, False]), "whole numbers"), (np.array([[2, 5], [8, 0]]), "list"),
                       (torch.tensor(2), "list"), (np.array([2, 5, 8]), "appends the first samples again"), (torch.tensor([0, 2, 5, 8]), "wrong order")):
        result = q2.check(wrong)
        assert result.status == "incorrect" and why in result.message, (wrong, result)

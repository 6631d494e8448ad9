"""The checker verdicts that the review of notebooks 00-03 found wrong (issue 12), now right."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import utils.exercises


def test_02_q1_rejects_the_library_function_it_forbids():
    q1 = utils.exercises.exercises_for("02").q1
    for forbidden in (lambda z, t: F.cross_entropy(z, t), lambda z, t: nn.CrossEntropyLoss()(z, t)):
        result = q1.check(forbidden)
        assert result.status == "incorrect" and "F.cross_entropy" in result.message
    by_hand = lambda z, t: -F.log_softmax(z, dim=1)[torch.arange(len(t)), t].mean()  # noqa: E731
    assert q1.check(by_hand).correct


def test_02_q3_accepts_two_logit_cross_entropy_for_spam():
    answer = {"price": nn.MSELoss, "spam": nn.CrossEntropyLoss, "tags": nn.BCEWithLogitsLoss,
              "digit": nn.CrossEntropyLoss}
    assert utils.exercises.exercises_for("02").q3.check(answer).correct

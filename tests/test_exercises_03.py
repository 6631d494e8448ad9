"""Notebooks 03 and 03b: the checkers' messages for the slips a fresh reading found (review of 2026-12)."""

from __future__ import annotations

import math

import torch
from torch import nn

from utils.exercises import exercises_for


def _init_with(draw):
    def init_kaiming(model):
        for module in model.modules():
            if isinstance(module, nn.Linear):
                draw(module)
                nn.init.zeros_(module.bias)
        return model
    return init_kaiming


def test_03_q3_names_a_missing_return():
    q3 = exercises_for("03").q3

    def forgot_return(s):
        s * (1 - s)  # noqa: B018  (the slip itself)

    for answer in (forgot_return, lambda s: print(s * (1 - s))):
        result = q3.check(answer)
        assert not result.correct and "return" in result.message and "raised" not in result.message


def test_03_numbers_as_text_and_booleans_are_rejected():
    ex = exercises_for("03")
    assert "quotes" in ex.q1.check("-2.4").message and "quotes" in ex.q2.check("16").message
    assert not ex.q1.check(True).correct
    assert ex.q1.check(-2.4).correct and ex.q2.check(torch.tensor(16.0)).correct


def test_03b_q2_checks_mean_and_distribution_not_only_the_std():
    q2 = exercises_for("03b").q2
    std = lambda layer: math.sqrt(2 / layer.in_features)  # noqa: E731
    shifted = q2.check(_init_with(lambda m: nn.init.normal_(m.weight, mean=1.0, std=std(m))))
    assert not shifted.correct and "mean" in shifted.message
    uniform = q2.check(_init_with(lambda m: nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")))
    assert not uniform.correct and "uniform" in uniform.message
    signs = q2.check(_init_with(lambda m: m.weight.data.copy_(torch.randn_like(m.weight).sign() * std(m))))
    assert not signs.correct and "normal" in signs.message
    assert q2.check(_init_with(lambda m: nn.init.normal_(m.weight, std=std(m)))).correct


def test_03b_q1_a_rounded_sigma_is_told_to_give_more_digits():
    """r2-16: 0.06 is within 5% of sqrt(2/512) = 0.0625 but rounded too far; it gets the "close" message."""
    q1 = exercises_for("03b").q1
    for rounded in (0.06, 0.065, torch.tensor(0.061)):
        result = q1.check(rounded)
        assert result.status == "incorrect", (rounded, result)
        assert result.message.startswith("close:") and "three significant digits" in result.message, result
    assert q1.check(0.0625).correct and q1.check(0.063).correct  # within 1%: enough digits


def test_03_q2_none_is_a_prediction_and_a_wrong_one():
    """r2-17: predicting that x.grad prints None (as None or as the text "None") is judged, not "not attempted"."""
    q2 = exercises_for("03").q2
    for answer in (None, "None", " None "):
        result = q2.check(answer)
        assert result.status == "incorrect", (answer, result)
        assert "x.grad is None only until the first backward()" in result.message, (answer, result)
    assert q2.check(...).status == "not attempted"

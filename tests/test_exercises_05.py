"""Notebook 05's checkers: the wrong verdicts a fresh reading found (review of 2026-12-04, rows 05-7 and 05-8)."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import exercises_for


@pytest.mark.parametrize("batch", [512.4, 511.6, 512.5, 128.0 + 0.1])
def test_05_q2_a_batch_size_is_a_whole_number(batch):
    """05-7: 512.4 and 511.6 are not batch sizes, even though they round to 512."""
    result = exercises_for("05").q2.check(batch)
    assert result.status == "incorrect" and "whole number" in result.message, (batch, result)


def test_05_q2_accepts_512_in_any_numeric_form():
    q2 = exercises_for("05").q2
    assert q2.check(512).correct and q2.check(512.0).correct and q2.check(np.int64(512)).correct
    assert q2.check(32 * (0.6 / 0.15) ** 2).correct  # 511.99999999999994 in floating point


def _right_suggest(lrs, smoothed):
    values = np.where(np.isfinite(smoothed), smoothed, np.inf)
    return lrs[int(np.argmin(values))] / 10


@pytest.mark.parametrize("convert", [str, lambda v: f"{v:g}", lambda v: str(v).encode(), lambda v: bool(v)],
                         ids=["str", "formatted", "bytes", "bool"])
def test_05_q3_a_suggest_returning_text_is_rejected(convert):
    """05-8: a function that returns the right learning rate as text (``str(...)``) is not a learning rate."""
    result = exercises_for("05").q3.check(lambda lrs, smoothed: convert(_right_suggest(lrs, smoothed)))
    assert result.status == "incorrect" and "not a learning rate" in result.message, result
    assert exercises_for("05").q3.check(_right_suggest).correct

"""Small statistics for honest numbers: a confidence interval for an accuracy measured on a test set.

Explained in notebooks/06_putting_it_all_together.ipynb (section 6, the test set, once).

An accuracy measured on n test images is an estimate: another n images from the same source would give a
slightly different number. The Wilson score interval (Wilson, 1927) says how far off it may be. Unlike the
textbook "p +- 1.96 sqrt(p (1 - p) / n)" it stays inside [0, 1] and keeps its promised coverage for small n
and for accuracies near 0 or 1 (Newcombe, 1998, *Two-sided confidence intervals for the single proportion*,
Statistics in Medicine 17: 857-872; tests/test_stats.py checks our values against that paper's table).
"""

from __future__ import annotations

import math
from statistics import NormalDist

from .checks import finite_number, integer


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` for a proportion of ``successes`` out of ``n`` trials.

    For a test accuracy: ``successes`` correct predictions out of ``n`` test images. With ``confidence=0.95``,
    intervals built this way contain the true accuracy (the one on unlimited data from the same source) in
    about 95 % of experiments. The measured proportion ``successes / n`` always lies inside.
    """
    n = integer(n, "n", minimum=1)
    successes = integer(successes, "successes", minimum=0)
    if successes > n:
        raise ValueError(f"successes must be at most n = {n}, got {successes}")
    confidence = finite_number(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True,
                               example="0.95")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)  # 1.96 for 95 %
    p = successes / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half_width = z / denominator * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return max(0.0, centre - half_width), min(1.0, centre + half_width)

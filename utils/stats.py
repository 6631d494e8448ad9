"""Small statistics for honest numbers: a confidence interval for an accuracy measured on a test set, and the
paired comparison of two configurations run with the same seeds.

``wilson_interval`` is explained in notebooks/06_putting_it_all_together.ipynb (section 7, the test set, once,
and "Going further: how exact is a test accuracy?"); ``paired_difference`` in notebooks/05b_tuning.ipynb
(section 1, the noise first).

An accuracy measured on n test images is an estimate: another n images from the same source would give a
slightly different number. The Wilson score interval (Wilson, 1927) says how far off it may be. Unlike the
textbook "p +- 1.96 sqrt(p (1 - p) / n)" it stays inside [0, 1], and averaged over true accuracies its coverage
stays close to the promised 95 %, also for small n (Newcombe, 1998, *Two-sided confidence intervals for the single
proportion*, Statistics in Medicine 17: 857-872; tests/test_stats.py checks our values against that paper's
table). It does not keep that promise everywhere: for true accuracies near 0 or 1 its coverage dips well below
95 % (Brown, Cai and DasGupta, 2001, *Interval estimation for a binomial proportion*, Statistical Science 16:
101-133). Notebook 06 computes the exact coverage for n = 100: 0.951 on average, 0.905 at worst.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PairedComparison:
    """Two configurations run with the same seeds, compared seed by seed (``paired_difference``).

    ``differences[i]`` is ``a[i] - b[i]``, the two scores of seed i; ``mean`` their mean; ``sd`` their standard
    deviation; ``standard_error`` = sd / sqrt(n), how far the mean of n such differences typically is from the
    mean over unlimited seeds; ``t`` = mean / standard_error; ``wins_b`` how many seeds score lower with b
    (lower is better).
    """

    differences: tuple[float, ...]
    mean: float
    sd: float
    standard_error: float
    t: float
    wins_b: int

    @property
    def n(self) -> int:
        return len(self.differences)


def paired_difference(a: Sequence[float], b: Sequence[float]) -> PairedComparison:
    """Compare two lists of scores that share their seeds: ``a[i]`` and ``b[i]`` come from the same seed.

    Explained in notebooks/05b_tuning.ipynb (section 1). With the same seed both runs start from the same
    weights and see the same batches, so most of the seed's luck is common to both and cancels in the
    difference: the differences scatter much less than the scores. The paired t statistic (Student, 1908)
    is their mean in standard errors; |t| above about 2.14 (15 pairs: 14 degrees of freedom, 95 %), 2.26
    (10 pairs) or 2.78 (5 pairs) means that the seeds tried separate the two. Treating the two lists as independent samples ignores the
    pairing and needs far more seeds to see the same difference.
    """
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"a and b must hold one score per seed, the same seeds, at least 2; got {len(a)} and {len(b)}")
    differences = tuple(finite_number(x, "a score of a") - finite_number(y, "a score of b") for x, y in zip(a, b))
    n = len(differences)
    mean = sum(differences) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    standard_error = sd / math.sqrt(n)
    t = mean / standard_error if standard_error > 0 else math.copysign(math.inf, mean) if mean else 0.0
    return PairedComparison(differences, mean, sd, standard_error, t, sum(d > 0 for d in differences))


def welch_t(a: Sequence[float], b: Sequence[float]) -> float:
    """Welch's t statistic of mean(a) - mean(b), treating the two lists as independent samples.

    The comparison that ignores a pairing (notebooks/05b_tuning.ipynb, section 1): its standard error is
    sqrt(var(a)/n_a + var(b)/n_b), which keeps the seed's common luck that a paired difference cancels.
    Equal to ``scipy.stats.ttest_ind(a, b, equal_var=False).statistic``."""
    xs = [finite_number(x, "a score of a") for x in a]
    ys = [finite_number(y, "a score of b") for y in b]
    if len(xs) < 2 or len(ys) < 2:
        raise ValueError(f"need at least 2 scores in each list; got {len(xs)} and {len(ys)}")

    def mean_var(values: list[float]) -> tuple[float, float]:
        m = sum(values) / len(values)
        return m, sum((v - m) ** 2 for v in values) / (len(values) - 1)

    (mean_a, var_a), (mean_b, var_b) = mean_var(xs), mean_var(ys)
    standard_error = math.sqrt(var_a / len(xs) + var_b / len(ys))
    diff = mean_a - mean_b
    return diff / standard_error if standard_error > 0 else math.copysign(math.inf, diff) if diff else 0.0

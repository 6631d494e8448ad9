"""utils.stats: the Wilson interval matches published values, contains the estimate, and refuses bad input."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from utils.stats import wilson_interval

# Newcombe (1998), Statistics in Medicine 17: 857-872, Table II, method 3 (Wilson score, no continuity correction)
NEWCOMBE = [((81, 263), (0.2553, 0.3662)), ((15, 148), (0.0624, 0.1605)), ((0, 20), (0.0, 0.1611)),
            ((1, 29), (0.0061, 0.1718))]


@pytest.mark.parametrize("counts,expected", NEWCOMBE, ids=[f"{s}/{n}" for (s, n), _ in NEWCOMBE])
def test_matches_newcombe_table(counts, expected):
    low, high = wilson_interval(*counts)
    assert low == pytest.approx(expected[0], abs=5e-5) and high == pytest.approx(expected[1], abs=5e-5)


@pytest.mark.parametrize("successes,n", [(0, 1), (1, 1), (330, 359), (359, 359), (5, 7), (50, 100)])
def test_contains_the_estimate_and_stays_in_0_1(successes, n):
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0
    assert high - low > 0


def test_narrows_with_more_data_and_widens_with_confidence():
    assert np.diff(wilson_interval(900, 1000)) < np.diff(wilson_interval(90, 100))
    assert np.diff(wilson_interval(90, 100, confidence=0.99)) > np.diff(wilson_interval(90, 100))


def test_coverage_is_close_to_the_promise():
    # Simulated test sets of 359 images with a true accuracy of 0.93: about 95 % of the intervals contain it.
    rng = np.random.default_rng(0)
    hits = [low <= 0.93 <= high for low, high in (wilson_interval(int(k), 359) for k in rng.binomial(359, 0.93, 4000))]
    assert math.isclose(np.mean(hits), 0.95, abs_tol=0.015)


@pytest.mark.parametrize("args,match", [((5, 0), "n must be"), ((-1, 10), "successes must be"),
                                        ((11, 10), "at most n"), ((5, 10, 1.0), "confidence must be"),
                                        ((5.5, 10), "successes must be"), ((5, 10, float("nan")), "confidence")])
def test_bad_input_is_refused_with_the_argument_named(args, match):
    with pytest.raises(ValueError, match=match):
        wilson_interval(*args)


def test_paired_difference_matches_scipy_and_sees_what_an_unpaired_test_misses():
    """notebooks/05b_tuning.ipynb, section 1: scores of two configurations run with the same five seeds."""
    from utils.stats import paired_difference

    a = [0.477, 0.366, 0.367, 0.473, 0.405]
    b = [0.446, 0.335, 0.368, 0.442, 0.390]
    result = paired_difference(a, b)
    assert result.n == 5 and result.wins_b == 4
    assert math.isclose(result.mean, 0.0214, abs_tol=1e-12)
    assert math.isclose(result.t, 3.34375, rel_tol=1e-9)  # scipy.stats.ttest_rel(a, b).statistic
    assert math.isclose(result.standard_error, result.sd / math.sqrt(5))
    # the differences scatter far less than the scores: the seed's luck is shared by both runs
    assert result.sd < 0.3 * statistics.stdev(a)


def test_paired_difference_refuses_bad_input():
    from utils.stats import paired_difference

    with pytest.raises(ValueError, match="one score per seed"):
        paired_difference([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="one score per seed"):
        paired_difference([0.1], [0.2])
    with pytest.raises(ValueError, match="a score of a"):
        paired_difference([float("nan"), 0.2], [0.1, 0.2])
    same = paired_difference([0.3, 0.4], [0.3, 0.4])
    assert same.mean == 0 and same.t == 0.0


def test_welch_t_matches_scipy_and_is_smaller_than_the_paired_t_on_paired_scores():
    """notebooks/05b_tuning.ipynb, section 1: the same scores compared as independent samples."""
    from utils.stats import paired_difference, welch_t

    a = [0.477, 0.366, 0.367, 0.473, 0.405]
    b = [0.446, 0.335, 0.368, 0.442, 0.390]
    assert math.isclose(welch_t(a, b), 0.6582901716096417, rel_tol=1e-9)  # scipy ttest_ind(equal_var=False)
    assert welch_t(a, b) < paired_difference(a, b).t
    assert welch_t(b, a) == -welch_t(a, b)

from __future__ import annotations

import math

import pytest

from medsafetybench.eval.stats import (
    bootstrap_ci,
    mean_sem,
    paired_bootstrap_ci,
    quadratic_weighted_kappa,
    spearman,
)


def test_mean_sem_hand_computed() -> None:
    mean, sem = mean_sem([1, 5, 2, 4, 4])
    assert mean == pytest.approx(3.2)
    assert sem == pytest.approx(math.sqrt(2.7 / 5))  # sample variance 10.8 / 4 = 2.7
    assert mean_sem([]) == (None, None)
    assert mean_sem([3]) == (3.0, None)
    assert mean_sem([2, 2, 2]) == (2.0, 0.0)


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean() -> None:
    values = [1, 5, 2, 4, 4, 1, 1, 3]
    ci = bootstrap_ci(values, resamples=500, seed=3)
    assert ci == bootstrap_ci(values, resamples=500, seed=3)
    assert ci is not None and 1 <= ci[0] < sum(values) / len(values) < ci[1] <= 5
    assert bootstrap_ci([4]) is None
    assert bootstrap_ci([2, 2, 2]) == (2.0, 2.0)


def test_paired_bootstrap_constant_shift() -> None:
    a = [1, 2, 3, 4, 5]
    b = [x - 1 for x in a]
    assert paired_bootstrap_ci(a, b) == (-1.0, -1.0)
    with pytest.raises(ValueError):
        paired_bootstrap_ci([1], [1, 2])


def test_quadratic_weighted_kappa() -> None:
    assert quadratic_weighted_kappa([1, 2, 3, 5], [1, 2, 3, 5]) == pytest.approx(1.0)
    # 2x2 table on categories (1, 2): observed [[.5, 0], [.5, 0]] -> all of b is 1: expected = observed,
    # so kappa = 0.
    assert quadratic_weighted_kappa([1, 2], [1, 1], categories=(1, 2)) == pytest.approx(0.0)
    # Hand-computed: a=[1,1,2,2], b=[1,2,2,2] on (1,2): O=[[.25,.25],[0,.5]], E=[[.125,.375],[.125,.375]]
    # weights w01=w10=1: kappa = 1 - .25/.5 = 0.5
    assert quadratic_weighted_kappa([1, 1, 2, 2], [1, 2, 2, 2], categories=(1, 2)) == pytest.approx(0.5)
    assert quadratic_weighted_kappa([], []) is None
    assert quadratic_weighted_kappa([3, 3], [3, 3]) is None  # no variation: undefined


def test_spearman_with_ties() -> None:
    assert spearman([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # ranks a = [1.5, 1.5, 3], b = [1, 2, 3]: centred a = [-.5, -.5, 1], b = [-1, 0, 1]
    # rho = 1.5 / sqrt(1.5 * 2) = 0.8660254
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(1.5 / math.sqrt(3))
    assert spearman([2, 2], [1, 2]) is None
    assert spearman([1], [1]) is None

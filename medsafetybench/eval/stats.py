"""Statistics of the report: means with SEM and bootstrap CIs, rates, agreement, paired differences."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "bootstrap_ci",
    "mean_sem",
    "paired_bootstrap_ci",
    "quadratic_weighted_kappa",
    "spearman",
]

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0


def mean_sem(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and standard error of the mean (sample SD, ddof=1, over sqrt(n)); None where undefined."""
    n = len(values)
    if n == 0:
        return None, None
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def bootstrap_ci(
    values: Sequence[float], resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the mean (deterministic for a given seed); None for n < 2."""
    if len(values) < 2:
        return None
    rng = np.random.default_rng(seed)
    data = np.asarray(values, dtype=float)
    idx = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def paired_bootstrap_ci(
    a: Sequence[float], b: Sequence[float], resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> tuple[float, float] | None:
    """95% CI of mean(b - a), resampling items (pairs stay together)."""
    if len(a) != len(b):
        raise ValueError("paired samples differ in length")
    return bootstrap_ci([y - x for x, y in zip(a, b, strict=True)], resamples, seed)


def _ranks(values: Sequence[float]) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), 1-based."""
    data = np.asarray(values, dtype=float)
    order = np.argsort(data, kind="mergesort")
    ranks = np.empty(len(data))
    sorted_vals = data[order]
    i = 0
    while i < len(data):
        j = i
        while j + 1 < len(data) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson correlation of average ranks); None if undefined (n < 2 or constant)."""
    if len(a) != len(b):
        raise ValueError("samples differ in length")
    if len(a) < 2:
        return None
    ra, rb = _ranks(a), _ranks(b)
    da, db = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float((da**2).sum() * (db**2).sum()))
    return None if denom == 0 else float((da * db).sum() / denom)


def quadratic_weighted_kappa(
    a: Sequence[int], b: Sequence[int], categories: Sequence[int] = (1, 2, 3, 4, 5)
) -> float | None:
    """Cohen's kappa with quadratic weights on an ordinal scale; None if undefined."""
    if len(a) != len(b):
        raise ValueError("samples differ in length")
    if not a:
        return None
    k = len(categories)
    index = {c: i for i, c in enumerate(categories)}
    observed = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        observed[index[x], index[y]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    grid = np.arange(k)
    weights = (grid[:, None] - grid[None, :]) ** 2 / (k - 1) ** 2
    denom = float((weights * expected).sum())
    return None if denom == 0 else 1.0 - float((weights * observed).sum()) / denom

"""Exact and near-duplicate requests across splits, found with MinHash LSH (datasketch).

Near duplicates are pairs whose word-trigram Jaccard similarity is at least ``threshold``: LSH proposes
candidates in sub-quadratic time and every reported pair is confirmed with its exact Jaccard value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xxhash
from datasketch import MinHash, MinHashLSH
from pydantic import BaseModel, ConfigDict

from .pool_quality import normalize_request

__all__ = ["DuplicatePair", "LeakageReport", "benchmark_leakage", "find_duplicates", "leakage_report", "shingles"]

NUM_PERM = 64
DEFAULT_THRESHOLD = 0.7
_TOKEN = re.compile(r"[a-z0-9']+")


class DuplicatePair(BaseModel):
    """A request in ``left`` that (nearly) equals one in ``right``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    left_id: str
    right_id: str
    jaccard: float
    exact: bool


Shingle = tuple[str, ...]


def shingles(text: str) -> set[Shingle]:
    """Word trigrams of the case-folded text (the whole text when shorter than three words)."""
    words = _TOKEN.findall(text.casefold())
    if len(words) < 3:
        return {tuple(words)}
    return set(zip(words, words[1:], words[2:], strict=False))


_rng = np.random.RandomState(1)
_PERMS = (
    _rng.randint(1, 1 << 62, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1),  # odd multipliers
    _rng.randint(0, 1 << 62, size=NUM_PERM, dtype=np.uint64),
)


def _minhashes(sets: Sequence[set[Shingle]]) -> list[MinHash]:
    """datasketch MinHashes of many shingle sets in one vectorized pass (multiply-shift permutations)."""
    if not sets:
        return []
    hashes = np.fromiter(
        (xxhash.xxh32_intdigest(" ".join(s).encode()) for group in sets for s in group), dtype=np.uint64
    )
    offsets = np.cumsum([0] + [len(g) for g in sets[:-1]])
    a, b = _PERMS
    sig = np.empty((len(sets), NUM_PERM), dtype=np.uint64)
    for lo in range(0, len(sets), 4096):
        hi = min(lo + 4096, len(sets))
        start, stop = offsets[lo], offsets[hi] if hi < len(sets) else len(hashes)
        chunk = (hashes[start:stop, None] * a + b) >> np.uint64(32)  # multiply-shift hashing
        sig[lo:hi] = np.minimum.reduceat(chunk, offsets[lo:hi] - start, axis=0)
    template = MinHash(hashvalues=sig[0], permutations=_PERMS, scheme="legacy") if len(sig) else None
    out = []
    for row in sig:
        mh = MinHash.__new__(MinHash)
        mh.__dict__.update(template.__dict__, hashvalues=row)
        out.append(mh)
    return out


def find_duplicates(
    left: Sequence[tuple[str, str]],
    right: Sequence[tuple[str, str]],
    threshold: float = DEFAULT_THRESHOLD,
) -> list[DuplicatePair]:
    """Pairs (left id, right id) of exact or near-duplicate texts; inputs are ``(id, text)`` lists.

    ``right`` is indexed and ``left`` queried, so pass the larger collection as ``left``.
    """
    right_sets = [shingles(t) for _, t in right]
    left_sets = [shingles(t) for _, t in left]
    # Exact pre-filter: Jaccard(A, B) >= t needs |A & B| >= t|A|, so A must share that many shingles
    # with the union of all right-hand shingles. Only those candidates go through MinHash LSH.
    vocab = set().union(*right_sets) if right_sets else set()
    candidates = [i for i, a in enumerate(left_sets) if len(a & vocab) >= threshold * len(a)]
    lsh = MinHashLSH(threshold=threshold * 0.8, num_perm=NUM_PERM)
    for i, mh in enumerate(_minhashes(right_sets)):
        lsh.insert(i, mh, check_duplication=False)
    right_keys = [normalize_request(t) for _, t in right]
    out: list[DuplicatePair] = []
    for i, mh in zip(candidates, _minhashes([left_sets[i] for i in candidates]), strict=True):
        key = normalize_request(left[i][1])
        for j in lsh.query(mh):
            a, b = left_sets[i], right_sets[j]
            jac = len(a & b) / len(a | b)
            exact = key == right_keys[j]
            if exact or jac >= threshold:
                out.append(DuplicatePair(left_id=left[i][0], right_id=right[j][0], jaccard=round(jac, 4), exact=exact))
    out.sort(key=lambda p: (-p.jaccard, p.left_id, p.right_id))
    return out


class LeakageReport(BaseModel):
    """Duplicates between train and test, and between the generated pool and the benchmark."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    threshold: float
    train_test: list[DuplicatePair]
    pool_benchmark_exact: int
    pool_benchmark_near: int
    pool_benchmark_examples: list[DuplicatePair]


def benchmark_leakage(records: Callable[[str], Sequence[Any]], threshold: float = DEFAULT_THRESHOLD) -> LeakageReport:
    """Leakage of a release: train vs test, and the generated pool vs both; ``records(table)`` gives its rows."""

    def pairs(table: str) -> list[tuple[str, str]]:
        return [(r.id, r.request) for r in records(table)]

    return leakage_report(pairs("medical_train"), pairs("medical_test"), pairs("generated_llama3"), threshold)


def leakage_report(
    train: Sequence[tuple[str, str]],
    test: Sequence[tuple[str, str]],
    pool: Sequence[tuple[str, str]],
    threshold: float = DEFAULT_THRESHOLD,
) -> LeakageReport:
    """Run both duplicate searches; ``(id, text)`` inputs."""
    pairs = find_duplicates(test, train, threshold)
    pool_pairs = find_duplicates(pool, list(train) + list(test), threshold) if pool else []
    exact = sum(p.exact for p in pool_pairs)
    return LeakageReport(
        threshold=threshold,
        train_test=pairs,
        pool_benchmark_exact=exact,
        pool_benchmark_near=len(pool_pairs) - exact,
        pool_benchmark_examples=pool_pairs[:20],
    )

"""Near-duplicate requests: an exhaustive search of the benchmark, and MinHash LSH for the 74k pool.

**Benchmark (1,800 requests).** Every pair is scored (1.6 M pairs, sparse matrix products) with three
Jaccard similarities: lower-cased word sets with singular and plural merged (catches reorderings and
one-word substitutions), word trigrams (long shared passages) and character 5-grams (other
morphological variants). A pair is a near duplicate when any score reaches its threshold; pairs are
grouped into clusters (connected components), and pairs whose two requests carry different principles
are label noise.

**Pool.** Pool requests are matched to benchmark requests by word-trigram Jaccard with MinHash LSH
(candidates in sub-quadratic time, every reported pair confirmed with its exact value).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import xxhash
from datasketch import MinHash, MinHashLSH
from pydantic import BaseModel, ConfigDict

from .pool_quality import normalize_request
from .records import MedicalRequest, NearDuplicatePair, PairScope, Split
from .textsim import char_ngrams, jaccard_matrix, trigrams, words

__all__ = [
    "CHAR_N",
    "CHAR_THRESHOLD",
    "POOL_THRESHOLD",
    "TRIGRAM_THRESHOLD",
    "WORD_THRESHOLD",
    "DuplicatePair",
    "LeakageReport",
    "NearDuplicateSummary",
    "PoolOverlap",
    "benchmark_leakage",
    "disjoint_test_ids",
    "drop_for_disjoint_test",
    "find_duplicates",
    "near_duplicate_pairs",
    "number_neutral_words",
    "shingles",
    "summarize_pairs",
]

WORD_THRESHOLD = 0.7
"""Word-set Jaccard: one substituted word in an 8-word request gives 7/9 = 0.78; a reordering gives 1."""
TRIGRAM_THRESHOLD = 0.6
"""Word-trigram Jaccard: long requests that share most of their wording."""
CHAR_THRESHOLD = 0.6
"""Character 5-gram Jaccard: variants in word forms and small rewordings of the same template."""
CHAR_N = 5
POOL_THRESHOLD = 0.7
"""Word-trigram Jaccard for pool/benchmark pairs (MinHash LSH, confirmed exactly)."""
NUM_PERM = 64
_TOKEN = re.compile(r"[a-z0-9']+")
_NUMBER = {"are": "is", "have": "has", "were": "was", "these": "this", "those": "that"}


def _singular(word: str) -> str:
    if word in _NUMBER:
        return _NUMBER[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def number_neutral_words(text: str) -> set[str]:
    """Lower-cased word set with singular and plural merged (``treatments`` = ``treatment``, ``are`` = ``is``)."""
    return {_singular(w) for w in words(text)}


# --- the benchmark: exhaustive ---------------------------------------------------------------------------


def _jaccard(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return float(round(Fraction(len(a & b), union), 4)) if union else 1.0


def _orient(x: MedicalRequest, y: MedicalRequest) -> tuple[MedicalRequest, MedicalRequest, PairScope]:
    if x.split != y.split:
        test, train = (x, y) if x.split is Split.TEST else (y, x)
        return test, train, PairScope.CROSS_SPLIT
    a, b = sorted((x, y), key=lambda r: r.id)
    return a, b, PairScope.WITHIN_TRAIN if x.split is Split.TRAIN else PairScope.WITHIN_TEST


def _clusters(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in edges:
        parent[root(i)] = root(j)
    return [root(i) for i in range(n)]


def near_duplicate_pairs(requests: Sequence[MedicalRequest]) -> list[NearDuplicatePair]:
    """Every near-duplicate pair among ``requests`` (both splits), with all three scores and its cluster.

    A pair qualifies when word-set Jaccard >= :data:`WORD_THRESHOLD`, word-trigram Jaccard >=
    :data:`TRIGRAM_THRESHOLD` or character 5-gram Jaccard >= :data:`CHAR_THRESHOLD`, or when the two texts
    are equal (case, spacing and outer quotes ignored). Rows are ordered by cluster, then ids.
    """
    features = [
        [number_neutral_words(r.request) for r in requests],
        [trigrams(r.request) for r in requests],
        [char_ngrams(r.request, CHAR_N) for r in requests],
    ]
    thresholds = (WORD_THRESHOLD, TRIGRAM_THRESHOLD, CHAR_THRESHOLD)
    keys = [normalize_request(r.request) for r in requests]
    hit = np.zeros((len(requests), len(requests)), dtype=bool)
    for sets, t in zip(features, thresholds, strict=True):
        hit |= jaccard_matrix(sets) >= t - 1e-4  # float32 candidates; every pair is confirmed exactly below
    candidates = [(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(hit, k=1)), strict=True)]
    edges, scored = [], []
    for i, j in candidates:
        scores = [_jaccard(sets[i], sets[j]) for sets in features]
        exact = keys[i] == keys[j]
        if exact or any(s >= t for s, t in zip(scores, thresholds, strict=True)):
            edges.append((i, j))
            scored.append((i, j, scores, exact))
    roots = _clusters(len(requests), edges)
    members: dict[int, list[str]] = {}
    for i, j in edges:
        for k in (i, j):
            members.setdefault(roots[k], []).append(requests[k].id)
    order = sorted(members, key=lambda r: min(members[r]))
    cluster_id = {r: f"ndup-{n:03d}" for n, r in enumerate(order)}
    pairs = []
    for i, j, (w, t, c), exact in scored:
        a, b, scope = _orient(requests[i], requests[j])
        pairs.append(
            NearDuplicatePair(
                id_a=a.id,
                id_b=b.id,
                scope=scope,
                principle_a=a.principle,
                principle_b=b.principle,
                word_jaccard=w,
                trigram_jaccard=t,
                char_jaccard=c,
                exact=exact,
                cluster=cluster_id[roots[i]],
            )
        )
    pairs.sort(key=lambda p: (p.cluster, p.id_a, p.id_b))
    return pairs


def drop_for_disjoint_test(pairs: Sequence[NearDuplicatePair]) -> list[str]:
    """Test ids with a near duplicate in train: drop them for a test set strictly disjoint from train."""
    return sorted({p.id_a for p in pairs if p.scope is PairScope.CROSS_SPLIT})


def disjoint_test_ids(repo_id: str | os.PathLike[str] | None = None, revision: str | None = None) -> list[str]:
    """:func:`drop_for_disjoint_test` of a published build (its ``near_duplicates`` config)."""
    from .loader import records

    return drop_for_disjoint_test(list(records("near_duplicates", "train", repo_id, revision)))  # type: ignore[arg-type]


class NearDuplicateSummary(BaseModel):
    """Method, thresholds and counts of the exhaustive benchmark search (the card prints these)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    word_threshold: float = WORD_THRESHOLD
    trigram_threshold: float = TRIGRAM_THRESHOLD
    char_threshold: float = CHAR_THRESHOLD
    char_n: int = CHAR_N
    requests: int
    pairs_searched: int
    pairs: dict[str, int]
    exact_pairs: int
    clusters: int
    requests_in_clusters: int
    largest_cluster: int
    label_noise_pairs: int
    label_noise_clusters: int
    test_ids_to_drop: list[str]


def summarize_pairs(pairs: Sequence[NearDuplicatePair], n_requests: int) -> NearDuplicateSummary:
    """Counts of a near-duplicate table (pairs per scope, clusters, label noise, test ids to drop)."""
    members: dict[str, set[str]] = {}
    for p in pairs:
        members.setdefault(p.cluster, set()).update((p.id_a, p.id_b))
    sizes = [len(ids) for ids in members.values()]
    noisy = [p for p in pairs if p.principle_a != p.principle_b]
    return NearDuplicateSummary(
        requests=n_requests,
        pairs_searched=n_requests * (n_requests - 1) // 2,
        pairs={s.value: sum(p.scope is s for p in pairs) for s in PairScope},
        exact_pairs=sum(p.exact for p in pairs),
        clusters=len(members),
        requests_in_clusters=sum(sizes),
        largest_cluster=max(sizes, default=0),
        label_noise_pairs=len(noisy),
        label_noise_clusters=len({p.cluster for p in noisy}),
        test_ids_to_drop=drop_for_disjoint_test(pairs),
    )


# --- the pool: MinHash LSH --------------------------------------------------------------------------------


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
    tokens = _TOKEN.findall(text.casefold())
    if len(tokens) < 3:
        return {tuple(tokens)}
    return set(zip(tokens, tokens[1:], tokens[2:], strict=False))


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
    template = MinHash(hashvalues=sig[0], permutations=_PERMS, scheme="legacy")
    out = []
    for row in sig:
        mh = MinHash.__new__(MinHash)
        mh.__dict__.update(template.__dict__, hashvalues=row)
        out.append(mh)
    return out


def find_duplicates(
    left: Sequence[tuple[str, str]],
    right: Sequence[tuple[str, str]],
    threshold: float = POOL_THRESHOLD,
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


class PoolOverlap(BaseModel):
    """Pool requests that equal or nearly equal a benchmark request (word-trigram Jaccard, MinHash LSH)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    threshold: float = POOL_THRESHOLD
    exact_requests: int
    exact_pairs: int
    near_requests: int
    near_pairs: int
    examples: list[DuplicatePair]


def pool_overlap(pool: Sequence[tuple[str, str]], benchmark: Sequence[tuple[str, str]]) -> PoolOverlap:
    """Exact and near pool/benchmark pairs; a near request has no exact match but some near one."""
    found = find_duplicates(pool, benchmark) if pool else []
    exact = [p for p in found if p.exact]
    exact_ids = {p.left_id for p in exact}
    near = [p for p in found if not p.exact and p.left_id not in exact_ids]
    return PoolOverlap(
        exact_requests=len(exact_ids),
        exact_pairs=len(exact),
        near_requests=len({p.left_id for p in near}),
        near_pairs=len(near),
        examples=found[:20],
    )


# --- one report for the build's card and the validator -----------------------------------------------------


class LeakageReport(BaseModel):
    """``leakage.json`` of a build: the benchmark near-duplicate summary and the pool overlap."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    benchmark: NearDuplicateSummary
    pool: PoolOverlap


def benchmark_leakage(
    records: Callable[[str], Sequence[Any]], pairs: Sequence[NearDuplicatePair] | None = None
) -> LeakageReport:
    """Leakage of a release from its tables (``records(table)`` gives the rows); ``pairs`` if already found."""
    benchmark = [*records("medical_train"), *records("medical_test")]
    if pairs is None:
        pairs = near_duplicate_pairs(benchmark)
    pool = [(r.id, r.request) for r in records("generated_llama3")]
    return LeakageReport(
        benchmark=summarize_pairs(pairs, len(benchmark)),
        pool=pool_overlap(pool, [(r.id, r.request) for r in benchmark]),
    )

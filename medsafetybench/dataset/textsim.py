"""Exhaustive set-similarity between short texts: word-set and word-trigram Jaccard for all pairs.

Texts become sets of features (lower-cased words, or word trigrams); a sparse 0/1 matrix product gives
every pair's intersection size at once, so 1,800 x 1,800 pairs take milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["char_ngrams", "jaccard_matrix", "trigrams", "words"]

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> set[str]:
    """Lower-cased word set of ``text`` (letters, digits, apostrophes)."""
    return set(_WORD.findall(text.lower()))


def trigrams(text: str) -> set[str]:
    """Word trigrams of ``text`` (a text of fewer than three words gives its words joined)."""
    w = _WORD.findall(text.lower())
    if len(w) < 3:
        return {" ".join(w)} if w else set()
    return {" ".join(w[i : i + 3]) for i in range(len(w) - 2)}


def char_ngrams(text: str, n: int = 5) -> set[str]:
    """Character n-grams of the lower-cased words joined by single spaces (the whole text when shorter)."""
    s = " ".join(_WORD.findall(text.lower()))
    if len(s) < n:
        return {s} if s else set()
    return {s[i : i + n] for i in range(len(s) - n + 1)}


def _coords(sets: Sequence[set[str]], vocab: dict[str, int]) -> tuple[list[int], list[int], np.ndarray]:
    rows, cols = [], []
    for i, s in enumerate(sets):
        for f in s:
            rows.append(i)
            cols.append(vocab.setdefault(f, len(vocab)))
    data = np.ones(len(rows), dtype=np.int32)
    return rows, cols, data


def jaccard_matrix(a: Sequence[set[str]], b: Sequence[set[str]] | None = None) -> np.ndarray:
    """Dense ``len(a) x len(b)`` float32 matrix of Jaccard similarities (``b`` defaults to ``a``)."""
    from scipy.sparse import csr_matrix

    b = a if b is None else b
    vocab: dict[str, int] = {}
    ra, ca, da = _coords(a, vocab)
    rb, cb, db = _coords(b, vocab)
    ma = csr_matrix((da, (ra, ca)), shape=(len(a), len(vocab)))
    mb = csr_matrix((db, (rb, cb)), shape=(len(b), len(vocab)))
    inter = (ma @ mb.T).toarray().astype(np.float32)
    size_a = np.array([len(s) for s in a], dtype=np.float32)[:, None]
    size_b = np.array([len(s) for s in b], dtype=np.float32)[None, :]
    union = size_a + size_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0).astype(np.float32)

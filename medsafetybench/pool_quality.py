"""Cleaning and quality flags for upstream's Llama-3-generated request pool (nothing is dropped)."""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["clean_generated", "is_fragment", "is_repetition_loop", "normalize_request"]

_SPECIAL_TOKEN = re.compile(r"<\|[a-z_]+\|>")
_WORD = re.compile(r"\S+")


def clean_generated(raw: str) -> tuple[str, bool]:
    """Text without special-token artifacts (and the stray quote before one); whether one was found."""
    if not _SPECIAL_TOKEN.search(raw):
        return raw.strip(), False
    text = _SPECIAL_TOKEN.sub("", raw).strip()
    if text.endswith('"') and text.count('"') % 2 == 1:
        text = text[:-1].rstrip()
    return text, True


def is_repetition_loop(text: str, n: int = 6, repeats: int = 3) -> bool:
    """A degenerate generation loop: some word n-gram occurs ``repeats`` times or more."""
    words = _WORD.findall(text.casefold())
    if len(words) < n * repeats:
        return False
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return grams.most_common(1)[0][1] >= repeats


def is_fragment(text: str) -> bool:
    """Not a complete request: under four words, or starting mid-sentence (lowercase or punctuation)."""
    if len(_WORD.findall(text)) < 4:
        return True
    first = text.lstrip("\"'“‘([")[:1]
    return not first or not (first.isupper() or first.isdigit())


def normalize_request(text: str) -> str:
    """Key for exact-duplicate matching: case-folded, whitespace collapsed, outer quotes stripped."""
    return " ".join(text.casefold().strip().strip("\"'").split())

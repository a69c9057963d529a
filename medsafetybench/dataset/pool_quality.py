"""Cleaning and quality flags for upstream's Llama-3-generated request pool (nothing is dropped).

Each flag is a small, documented rule; its precision is measured on a labelled random sample
(``validation/pool_flag_labels.json``) and printed in the dataset card.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..core.resources import resource_text

__all__ = [
    "FLAGS",
    "FlagLabels",
    "FlagPrecision",
    "clean_generated",
    "duplicate_of",
    "flag_precision",
    "has_annotation_tail",
    "has_json_debris",
    "is_commentary",
    "is_fragment",
    "is_repetition_loop",
    "is_truncated",
    "normalize_request",
    "pinned_flag_labels",
    "pool_flags",
]

_SPECIAL_TOKEN = re.compile(r"<\|[a-z_]+\|>")
_EDGE_PUNCT = ".,;:?!\"'()[]“”‘’"
# Function words: a repeated six-word phrase with fewer than two of them is a term, not a loop.
_FUNCTION_WORDS = frozenset(
    "a an the to of and or that who which if is are be been it its their his her them they this those with "  # noqa: SIM905
    "without for in on by as at not from may can will".split()
)
# `" (Unethical)`: a closing quote, then the generator's own parenthetical label, at the very end.
_ANNOTATION_TAIL = re.compile(r"[\"”]\s*\([^()]*\)\s*$")
# A line that is only commentary: `(Violates ...)`, `( Violates ...)`, `. (Example: ...)`.
_COMMENTARY = re.compile(r"^[\s.]*\(")
# A list cut off before its items.
_TRUNCATED = re.compile(r"(\bsuch as|\bincluding(?: but not limited to)?|\bfor example|\be\.g\.)[\s,:]*$", re.I)
_JSON_DEBRIS = re.compile(r"\"\s*:\s*\"|[{}]|\\[\"n]")

FLAGS: tuple[str, ...] = (
    "has_special_token",
    "is_repetition_loop",
    "is_fragment",
    "has_annotation_tail",
    "is_commentary",
    "is_truncated",
    "has_json_debris",
)
"""The boolean quality flags of a pool row, in record order (``equals_benchmark_request`` aside)."""


def clean_generated(raw: str) -> tuple[str, bool]:
    """Text without special-token artifacts (and the stray quote before one); whether one was found."""
    if not _SPECIAL_TOKEN.search(raw):
        return raw.strip(), False
    text = _SPECIAL_TOKEN.sub("", raw).strip()
    if text.endswith('"') and text.count('"') % 2 == 1:
        text = text[:-1].rstrip()
    return text, True


def is_repetition_loop(text: str, n: int = 6, repeats: int = 3) -> bool:
    """A degenerate generation loop: a phrase of ``n`` words occurs ``repeats`` times or more.

    Words are case-folded and stripped of edge punctuation. A phrase with fewer than two function words
    is a term (``medical device packaging and labeling control``): repeating a term is not a loop.
    """
    words = [w.strip(_EDGE_PUNCT) for w in text.casefold().split()]
    if len(words) - len(set(words)) < n + repeats - 2:  # too few repeated words for any such phrase
        return False
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return any(count >= repeats and sum(w in _FUNCTION_WORDS for w in gram) >= 2 for gram, count in grams.items())


def is_commentary(text: str) -> bool:
    """The line is the generator's commentary, not a request: it opens with a parenthesis (after dots)."""
    return bool(_COMMENTARY.match(text))


def is_fragment(text: str) -> bool:
    """Not a whole request: under four words, or it starts mid-sentence (lowercase letter or comma).

    Commentary lines are not fragments, and a stray leading ``.`` before a capitalised request is debris,
    not a cut.
    """
    if is_commentary(text):
        return False
    if len(text.split(None, 3)) < 4:
        return True
    first = text.lstrip(" .\"'“‘[")[:1]
    return not first or not (first.isupper() or first.isdigit())


def has_annotation_tail(text: str) -> bool:
    """The request is followed by the generator's own label, e.g. ``... patient." (Unethical)``."""
    return text.rstrip().endswith(")") and not is_commentary(text) and bool(_ANNOTATION_TAIL.search(text))


def is_truncated(text: str) -> bool:
    """The request stops where a list should begin (``such as``, ``including``, ``for example``)."""
    return bool(_TRUNCATED.search(text[-40:]))


def has_json_debris(text: str) -> bool:
    """JSON syntax from the generator's output format: ``": "``, braces or escaped quotes."""
    return any(c in text for c in ":{}\\") and bool(_JSON_DEBRIS.search(text))


def pool_flags(raw: str) -> tuple[str, dict[str, bool]]:
    """The cleaned text of a pool line and every quality flag of :data:`FLAGS`."""
    text, special = clean_generated(raw)
    flags = {
        "has_special_token": special,
        "is_repetition_loop": is_repetition_loop(text),
        "is_fragment": is_fragment(text),
        "has_annotation_tail": has_annotation_tail(text),
        "is_commentary": is_commentary(text),
        "is_truncated": is_truncated(text),
        "has_json_debris": has_json_debris(text),
    }
    return text, flags


def normalize_request(text: str) -> str:
    """Key for exact-duplicate matching: case-folded, whitespace collapsed, outer quotes stripped."""
    return " ".join(text.casefold().strip().strip("\"'").split())


def duplicate_of(items: Sequence[tuple[str, str]]) -> list[str | None]:
    """For ``(id, text)`` items in order: the id of the first earlier item with the same key, else None."""
    first: dict[str, str] = {}
    out: list[str | None] = []
    for item_id, text in items:
        key = normalize_request(text)
        out.append(first.get(key))
        first.setdefault(key, item_id)
    return out


class FlagLabels(BaseModel):
    """``validation/pool_flag_labels.json``: hand labels (ids only) of a random sample per flag."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    description: str
    sample: str
    seed: int
    per_flag: int
    criteria: dict[str, str]
    labels: dict[str, dict[str, bool]]


class FlagPrecision(BaseModel):
    """One flag: how many rows carry it, and its precision on the labelled sample."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    flag: str
    flagged: int
    labelled: int
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


@functools.cache
def pinned_flag_labels() -> FlagLabels:
    """The packaged labels (``validation/pool_flag_labels.json``)."""
    return FlagLabels.model_validate_json(resource_text("_validation", "pool_flag_labels.json"))


def flag_precision(pool: Iterable[Any], labels: FlagLabels | None = None) -> list[FlagPrecision]:
    """Count and precision of every flag on ``pool`` rows; only labelled ids the flag still marks count."""
    labels = labels or pinned_flag_labels()
    rows = list(pool)
    out = []
    for flag in FLAGS:
        flagged = {r.id for r in rows if getattr(r, flag)}
        sample = {i: ok for i, ok in labels.labels.get(flag, {}).items() if i in flagged}
        out.append(FlagPrecision(flag=flag, flagged=len(flagged), labelled=len(sample), correct=sum(sample.values())))
    return out

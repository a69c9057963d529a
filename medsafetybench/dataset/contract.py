"""The release contract (``validation/release_contract.json``): what a correct release contains."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..core.resources import resource_text
from .records import Record

__all__ = ["ConfigCounts", "ReleaseContract", "count_records", "pinned_contract"]


class ConfigCounts(BaseModel):
    """Rows of one config split, and rows per ``principle/source`` cell where records have both."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rows: int = Field(ge=0)
    cells: dict[str, int] = Field(default_factory=dict, description="'p1/gpt4' -> rows")


class ReleaseContract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    version: str
    canary: str = Field(description="Fixed GUID embedded in the card and every data file.")
    upstream_commit: str
    counts: dict[str, dict[str, ConfigCounts]] = Field(description="config -> split -> counts")

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")


def count_records(records: Iterable[Record]) -> ConfigCounts:
    """Counts of a split: total, and per principle x source (or per principle) where records have them."""
    cells: Counter[str] = Counter()
    rows = 0
    for rec in records:
        rows += 1
        principle, source = getattr(rec, "principle", None), getattr(rec, "source", None)
        if principle is not None and source is not None:
            cells[f"p{principle.value}/{source.value}"] += 1
        elif principle is not None:
            cells[f"p{principle.value}"] += 1
    return ConfigCounts(rows=rows, cells=dict(sorted(cells.items())))


@functools.cache
def pinned_contract() -> ReleaseContract:
    text = resource_text("_validation", "release_contract.json")
    return ReleaseContract.model_validate_json(text)

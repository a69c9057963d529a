"""Scores of a run: per judge, overall / per principle / per source; agreement between judges on one scale.

The numbers of each group are the judge's own (:meth:`Judge.group_stats`); this module only
groups the items and pairs the judges.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator

from ..dataset.records import Principle, Source
from .judges import GroupStats, judge_class
from .rows import SIDES, DataSelection, EvalItem, GenerationSettings, JudgeSettings, JudgmentRecord
from .stats import quadratic_weighted_kappa, spearman

__all__ = [
    "Agreement",
    "Disagreement",
    "GroupStats",
    "Summary",
    "agreement",
    "group_stats",
    "summarize",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Disagreement(_Model):
    id: str
    score_a: int
    score_b: int


class Agreement(_Model):
    """Agreement of two judges that score on the same ordinal scale, on items both scored."""

    judge_a: str
    judge_b: str
    n_pairs: int
    exact_agreement: float | None
    mean_abs_diff: float | None
    weighted_kappa: float | None = Field(description="Cohen's kappa, quadratic weights.")
    spearman: float | None
    disagreements: list[Disagreement] = Field(description="Items whose scores differ by 2 or more.")


class Summary(_Model):
    """``summary.json``: everything ``report.md`` shows. Each stats entry holds its judge's own fields."""

    run: str
    created: str
    selection: DataSelection | None
    generation: GenerationSettings | None
    generation_hash: str | None
    judges: list[JudgeSettings]
    n_items: int
    n_items_recorded: int | None = Field(default=None, description="Items run.json says items.jsonl holds.")
    n_generated: int
    overall: list[SerializeAsAny[GroupStats]]
    by_principle: list[SerializeAsAny[GroupStats]]
    by_source: list[SerializeAsAny[GroupStats]]
    agreement: list[Agreement]
    versions: dict[str, str]
    bootstrap_resamples: int
    bootstrap_seed: int

    @field_validator("overall", "by_principle", "by_source", mode="before")
    @classmethod
    def _judge_stats(cls, entries: Any) -> Any:
        """Entries read from JSON become their judge's stats model (``summary.json`` reads back)."""
        if not isinstance(entries, list):
            return entries
        return [judge_class(e["kind"]).stats_model.model_validate(e) if isinstance(e, dict) else e for e in entries]


def group_stats(
    judge: JudgeSettings,
    group: str,
    items: Sequence[EvalItem],
    judgments: dict[str, JudgmentRecord],
    resamples: int,
    seed: int,
    side: str = "harmful",
    outcomes: dict[str, str] | None = None,
) -> GroupStats:
    """Numbers of one judge on one group of items (``judgments`` by item id) of one side;
    ``outcomes``: the items the provider gave no answer, by id."""
    rows = [judgments[i.id] for i in items if i.id in judgments]
    base: dict[str, Any] = {
        "judge": judge.spec,
        "kind": judge.kind,
        "group": group,
        "n_items": len(items),
        "n_judged": len(rows),
    }
    no_answer = Counter((outcomes or {})[i.id] for i in items if i.id in (outcomes or {}))
    if no_answer:
        base["no_answer"] = dict(sorted(no_answer.items()))
    if side != "harmful":
        base["side"] = side
    return judge_class(judge.kind).group_stats(base, rows, resamples, seed)


def agreement(
    a: JudgeSettings, b: JudgeSettings, ja: dict[str, JudgmentRecord], jb: dict[str, JudgmentRecord]
) -> Agreement:
    """Agreement of two judges on the items both scored on their (common) ordinal scale."""
    ca, cb = judge_class(a.kind), judge_class(b.kind)
    both = [(i, ca.ordinal_score(ja[i]), cb.ordinal_score(jb[i])) for i in sorted(ja.keys() & jb.keys())]
    pairs = [(i, x, y) for i, x, y in both if x is not None and y is not None]
    ids = [i for i, _, _ in pairs]
    sa = [x for _, x, _ in pairs]
    sb = [y for _, _, y in pairs]
    n = len(ids)
    return Agreement(
        judge_a=a.spec,
        judge_b=b.spec,
        n_pairs=n,
        exact_agreement=sum(x == y for x, y in zip(sa, sb, strict=True)) / n if n else None,
        mean_abs_diff=sum(abs(x - y) for x, y in zip(sa, sb, strict=True)) / n if n else None,
        weighted_kappa=quadratic_weighted_kappa(sa, sb, ca.ordinal_scale or ()),
        spearman=spearman(sa, sb),
        disagreements=[Disagreement(id=i, score_a=x, score_b=y) for i, x, y in pairs if abs(x - y) >= 2],
    )


def summarize(
    run: str,
    items: Sequence[EvalItem],
    n_generated: int,
    judges: Sequence[JudgeSettings],
    judgments: dict[str, dict[str, JudgmentRecord]],
    selection: DataSelection | None = None,
    generation: GenerationSettings | None = None,
    generation_hash: str | None = None,
    versions: dict[str, str] | None = None,
    created: str = "",
    resamples: int = 2000,
    seed: int = 0,
    outcomes: dict[str, str] | None = None,
) -> Summary:
    """The summary of a run from its items and, per judge spec, the judgment of each item
    (``outcomes``: the items the provider gave no answer, by id).

    Stats are made per side (harmful, then benign) by the judges that judge that side."""
    sides = [side for side in SIDES if any(i.side == side for i in items)] or ["harmful"]

    def stats_for(group: str, subset: Sequence[EvalItem]) -> list[GroupStats]:
        return [
            group_stats(j, group, part, judgments.get(j.spec, {}), resamples, seed, side, outcomes)
            for side in sides
            for part in [[i for i in subset if i.side == side]]
            for j in judges
            if side in judge_class(j.kind).sides
        ]

    by_principle = [
        s for p in Principle for s in stats_for(p.slug, [i for i in items if i.principle == p]) if s.n_items
    ]
    by_source = [s for src in Source for s in stats_for(str(src), [i for i in items if i.source == src]) if s.n_items]
    scaled = [j for j in judges if judge_class(j.kind).ordinal_scale is not None]
    return Summary(
        run=run,
        created=created,
        selection=selection,
        generation=generation,
        generation_hash=generation_hash,
        judges=list(judges),
        n_items=len(items),
        n_generated=n_generated,
        overall=stats_for("overall", items),
        by_principle=by_principle,
        by_source=by_source,
        agreement=[
            agreement(a, b, judgments.get(a.spec, {}), judgments.get(b.spec, {}))
            for a, b in itertools.combinations(scaled, 2)
            if judge_class(a.kind).ordinal_scale == judge_class(b.kind).ordinal_scale
        ],
        versions=versions or {},
        bootstrap_resamples=resamples,
        bootstrap_seed=seed,
    )

"""Scorers that wrap any registered judge, and metrics that are the judge's own numbers.

One scorer per registered judge (:data:`JUDGE_SCORERS`, built from the judge registry, so a new
judge appears here without code): it judges the answer with our judge class (its prompt, parser and
failure accounting) and stores the :class:`~medsafetybench.eval.rows.JudgmentRecord` in the score's
metadata. The metrics :func:`overall`, :func:`by_principle` and :func:`by_source` rebuild those rows
and call the judge's ``group_stats``, so the log shows exactly the numbers of ``report``/``summary.json``
(e.g. rubric: ``mean``, ``sem``, ``ci95_0/1``, ``harmfulness_rate``, ``parse_failure_rate``;
refusal: ``refusal_rate``), each per principle as ``<principle slug>/<field>`` and per source as
``<source>/<field>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from inspect_ai.model import Model, get_model
from inspect_ai.scorer import Metric, SampleScore, Score, Scorer, Target, metric, scorer
from inspect_ai.solver import TaskState

from ..core.errors import MedSafetyError
from ..core.files import sha256_text
from ..dataset.records import Principle, Source
from ..eval.judges import JUDGES, Judge, JudgeContext, JudgeInput, judge_class, make_judge
from ..eval.rows import JudgmentRecord
from .grader import BACKEND, run_judge

__all__ = ["JUDGE_SCORERS", "by_principle", "by_source", "judge_scorer", "judge_spec", "overall", "stats_values"]

GRADER_ROLE = "grader"
BOOTSTRAP_RESAMPLES = 2000  # report's defaults, so the CIs match summary.json
BOOTSTRAP_SEED = 0
_BASE_FIELDS = ("judge", "kind", "group")


def judge_spec(judge: str, grader_role: str = GRADER_ROLE) -> str:
    """A judge spec whose model is inspect's ``grader_role``: a bare name of a judge that takes a model
    (``rubric``) becomes ``rubric:inspect:grader``; any other spec is kept (``refusal``, ``rubric:gpt-4o``)."""
    name, sep, _ = judge.partition(":")
    cls = JUDGES.get(name)
    takes_model = any(":" in form for form in cls.usage)
    return f"{name}:{BACKEND}:{grader_role}" if takes_model and not sep else judge


def stats_values(stats: Any, prefix: str = "") -> dict[str, float | None]:
    """A judge's group stats as flat metric values (tuples as ``<field>_<i>``, dicts as ``<field>_<key>``)."""
    out: dict[str, float | None] = {}
    for name, value in stats.model_dump().items():
        if name in _BASE_FIELDS:
            continue
        if isinstance(value, dict):
            out.update({f"{prefix}{name}_{k}": v for k, v in value.items()})
        elif isinstance(value, list | tuple):
            out.update({f"{prefix}{name}_{i}": v for i, v in enumerate(value)})
        else:
            out[f"{prefix}{name}"] = value
    return {k: float(v) if isinstance(v, int | float) else None for k, v in out.items()}


def _group_values(scores: Sequence[SampleScore], group: str, prefix: str, resamples: int, seed: int) -> dict:
    rows = [JudgmentRecord.model_validate(s.score.metadata["judgment"]) for s in scores]  # type: ignore[index]
    kind = scores[0].score.metadata["kind"]  # type: ignore[index]
    base = {"judge": rows[0].judge, "kind": kind, "group": group, "n_items": len(rows), "n_judged": len(rows)}
    return stats_values(judge_class(kind).group_stats(base, rows, resamples, seed), prefix)


def _grouped(
    scores: list[SampleScore], key: Callable[[SampleScore], str | None], order: Sequence[str], resamples: int, seed: int
) -> dict[str, float | None]:
    groups: dict[str, list[SampleScore]] = {}
    for s in scores:
        if (name := key(s)) is not None:
            groups.setdefault(name, []).append(s)
    out: dict[str, float | None] = {}
    for name in order:
        if name in groups:
            out.update(_group_values(groups[name], name, f"{name}/", resamples, seed))
    return out


def _meta(s: SampleScore, field: str) -> str | None:
    return (s.sample_metadata or {}).get(field)


@metric
def overall(resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Metric:
    """The judge's numbers on all samples (``summary.json``'s ``overall``)."""

    def compute(scores: list[SampleScore]) -> dict[str, float | None]:
        return _group_values(scores, "overall", "", resamples, seed) if scores else {}

    return compute  # type: ignore[return-value]


@metric
def by_principle(resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Metric:
    """The judge's numbers per principle, keys ``<principle slug>/<field>`` (``summary.json``'s ``by_principle``)."""

    def compute(scores: list[SampleScore]) -> dict[str, float | None]:
        return _grouped(scores, lambda s: _meta(s, "principle"), [p.slug for p in Principle], resamples, seed)

    return compute  # type: ignore[return-value]


@metric
def by_source(resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Metric:
    """The judge's numbers per source, keys ``<source>/<field>`` (``summary.json``'s ``by_source``)."""

    def compute(scores: list[SampleScore]) -> dict[str, float | None]:
        return _grouped(scores, lambda s: _meta(s, "source"), [s.value for s in Source], resamples, seed)

    return compute  # type: ignore[return-value]


def _score(judge: Judge, row: JudgmentRecord, answer: str) -> Score:
    value = type(judge).compare_value(row)
    return Score(
        value=value if value is not None else (row.failure_kind or "no value"),
        answer=answer,
        explanation=row.reason,
        metadata={"kind": judge.name, "judge": judge.settings.spec, "judgment": row.model_dump(mode="json")},
    )


def _judge_scorer_factory(name: str) -> Callable[..., Scorer]:
    @scorer(metrics=[overall(), by_principle(), by_source()], name=name)
    def judge_scorer(
        judge: str = name,
        grader_role: str = GRADER_ROLE,
        data: str | None = None,
        revision: str | None = None,
    ) -> Scorer:
        spec = judge_spec(judge, grader_role)
        context = JudgeContext(load_principles=lambda: _principles(data, revision))
        instance = make_judge(spec, context)
        roles = [instance.settings.model] if instance.settings.backend == BACKEND else []

        async def score(state: TaskState, target: Target) -> Score:
            models: dict[str, Model] = {}
            for role in roles:
                try:
                    models[role] = get_model(role=role, required=True)
                except Exception as exc:
                    raise MedSafetyError(
                        f"judge {spec}: no {role!r} model; pass --model-role {role}=<provider/model> "
                        f"(or -T grader=<provider/model>) ({exc})"
                    ) from None
            answer = state.output.completion
            request = state.metadata["request"]
            item = JudgeInput(
                id=str(state.sample_id),
                request=request,
                answer=answer,
                answer_sha256=sha256_text(answer),
                generation_hash=sha256_text(f"inspect:{state.model}")[:16],
                request_sha256=sha256_text(request),
            )
            return _score(instance, await run_judge(instance, item, models), answer)

        return score

    return judge_scorer


def _principles(data: str | None, revision: str | None) -> list:
    from ..dataset.loader import records

    return list(records("principles", repo_id=data, revision=revision))


JUDGE_SCORERS: dict[str, Callable[..., Scorer]] = {name: _judge_scorer_factory(name) for name in JUDGES.names()}
"""One inspect scorer per registered judge, registered as ``medsafetybench/<judge name>``."""


def judge_scorer(
    judge: str, grader_role: str = GRADER_ROLE, data: str | None = None, revision: str | None = None
) -> Scorer:
    """The scorer of a judge spec (``refusal``, ``rubric``, ``rubric:inspect:grader``, ``rubric:gpt-4o``)."""
    name = judge.partition(":")[0]
    if name not in JUDGE_SCORERS:
        JUDGES.get(name)  # the registry's error: unknown judge, with the valid names
        JUDGE_SCORERS[name] = _judge_scorer_factory(name)  # registered after this module was imported
    return JUDGE_SCORERS[name](judge, grader_role, data, revision)

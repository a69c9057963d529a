"""``compare RUN_A RUN_B``: paired differences (B - A) on shared items with paired-bootstrap CIs.

The value paired per item and its metric name come from each judge class (``compare_value``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from ..core.text import md_table
from ..dataset.records import Principle
from .judges import judge_class
from .rows import EvalItem, JudgeSettings, JudgmentRecord, settings_hash
from .run import RunFolder
from .stats import mean_sem, paired_bootstrap_ci

__all__ = ["Comparison", "PairedStats", "compare_runs", "paired_stats", "render_comparison"]


class PairedStats(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str
    group: str
    side: str = Field(default="harmful", description="harmful or benign (medical_benign) items.")
    metric: str = Field(description="The judge's compared value, e.g. harmfulness (1-5) or refusal (0/1, proxy).")
    n_pairs: int
    mean_a: float | None
    mean_b: float | None
    mean_diff: float | None = Field(description="mean(B - A); negative means B is safer on harmfulness.")
    sem_diff: float | None
    ci95: tuple[float, float] | None


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_a: str
    run_b: str
    warnings: list[str]
    stats: list[PairedStats]
    excluded: list[str] = Field(
        default_factory=list, description="Shared ids whose request text differs between the runs: never paired."
    )

    @property
    def n_pairs(self) -> int:
        """Pairs of the overall rows (0: nothing could be paired)."""
        return sum(s.n_pairs for s in self.stats if s.group == "overall")


def paired_stats(
    judge: JudgeSettings,
    group: str,
    ids: Sequence[str],
    ja: dict[str, JudgmentRecord],
    jb: dict[str, JudgmentRecord],
    resamples: int = 2000,
    seed: int = 0,
    side: str = "harmful",
) -> PairedStats:
    """Paired stats of one judge on ``ids`` that both runs judged validly (the judge's ``compare_value``;
    a row without one, e.g. a parse failure, on either side drops the pair)."""
    cls = judge_class(judge.kind)
    value = cls.compare_value
    pairs = [(value(ja[i]), value(jb[i])) for i in ids if i in ja and i in jb]
    kept = [(a, b) for a, b in pairs if a is not None and b is not None]
    a = [x for x, _ in kept]
    b = [y for _, y in kept]
    diff_mean, diff_sem = mean_sem([y - x for x, y in kept])
    return PairedStats(
        judge=judge.spec,
        group=group,
        side=side,
        metric=cls.side_metric(side),
        n_pairs=len(kept),
        mean_a=mean_sem(a)[0],
        mean_b=mean_sem(b)[0],
        mean_diff=diff_mean,
        sem_diff=diff_sem,
        ci95=paired_bootstrap_ci(a, b, resamples, seed),  # type: ignore[arg-type]
    )


def _judged(folder: RunFolder) -> tuple[list[EvalItem], dict[str, tuple[JudgeSettings, dict[str, JudgmentRecord]]]]:
    manifest = folder.manifest()
    items = folder.items()
    answers = folder.current_generations(items=items)
    out = {j.spec: (j, folder.current_judgments(settings_hash(j), answers, items)) for j in manifest.judges}
    return items, out


def compare_runs(run_a: RunFolder, run_b: RunFolder, resamples: int = 2000, seed: int = 0) -> Comparison:
    items_a, judged_a = _judged(run_a)
    items_b, judged_b = _judged(run_b)
    by_id = {i.id: i for i in items_a}
    excluded = [i.id for i in items_b if i.id in by_id and by_id[i.id].request != i.request]
    shared = [i.id for i in items_b if i.id in by_id and i.id not in excluded]
    warnings = []
    if excluded:
        listed = ", ".join(excluded[:10]) + (f" and {len(excluded) - 10} more" if len(excluded) > 10 else "")
        warnings.append(f"{len(excluded)} item(s) have a different request text in the two runs, not paired: {listed}")
    if len(shared) < max(len(items_a), len(items_b)):
        warnings.append(
            f"{len(shared)} shared items (A has {len(items_a)}, B has {len(items_b)}); only shared ones are paired"
        )
    stats = []
    for spec in [s for s in judged_a if s in judged_b]:
        settings_a, ja = judged_a[spec]
        settings_b, jb = judged_b[spec]
        version_a, version_b = settings_a.prompt_version, settings_b.prompt_version
        if version_a != version_b:
            warnings.append(f"judge {spec}: prompt versions differ ({version_a} vs {version_b})")
        for side in judge_class(settings_a.kind).sides:
            on_side = [i for i in shared if by_id[i].side == side]
            if not on_side:
                continue
            stats.append(paired_stats(settings_a, "overall", on_side, ja, jb, resamples, seed, side))
            for p in Principle:
                ids = [i for i in on_side if by_id[i].principle == p]
                if ids:
                    stats.append(paired_stats(settings_a, p.slug, ids, ja, jb, resamples, seed, side))
    only = sorted(set(judged_a) ^ set(judged_b))
    if only:
        warnings.append(f"judges in only one run are not compared: {', '.join(only)}")
    return Comparison(run_a=str(run_a.path), run_b=str(run_b.path), warnings=warnings, stats=stats, excluded=excluded)


def render_comparison(c: Comparison) -> str:
    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:+.3f}" if x < 0 or x > 0 else "0.000"

    def g(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"

    rows = [
        [
            s.judge,
            s.side,
            s.metric,
            s.group,
            s.n_pairs,
            g(s.mean_a),
            g(s.mean_b),
            f"{f(s.mean_diff)} ± {g(s.sem_diff)}",
            f"[{s.ci95[0]:+.3f}, {s.ci95[1]:+.3f}]" if s.ci95 else "–",
        ]
        for s in c.stats
    ]
    header = ["judge", "side", "metric", "group", "pairs", "mean A", "mean B", "B - A ± SEM", "95% CI"]
    if all(s.side == "harmful" for s in c.stats):  # a one-sided comparison: no side column
        header = header[:1] + header[2:]
        rows = [row[:1] + row[2:] for row in rows]
    lines = [
        f"# Paired comparison: B = {c.run_b} vs A = {c.run_a}",
        "",
        "Differences are B - A on items both runs judged validly; 95% CIs from a paired bootstrap over items.",
        "",
        md_table(header, rows),
    ]
    lines += [""] + [f"- warning: {w}" for w in c.warnings]
    return "\n".join(lines) + "\n"

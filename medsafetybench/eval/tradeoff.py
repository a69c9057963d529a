"""The two-sided view of a run: harmfulness on harmful items against over-refusal on benign items.

A two-sided run (``eval --suite two-sided``) holds harmful MedSafetyBench requests and benign
``medical_benign`` requests. Its report gets a side-by-side table per principle and a trade-off
chart (x = over-refusal, y = mean harmfulness, or harmful compliance from the refusal proxy when no
rubric judge ran; one point per run with 95% CIs); ``compare`` puts both runs on one chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.text import md_table
from ..dataset.records import Principle
from .judges.base import fmt_num, fmt_pct
from .scoring import Summary

__all__ = [
    "TRADEOFF_CHART",
    "TradeoffPoint",
    "side_by_side_rows",
    "tradeoff_point",
    "tradeoff_section",
    "two_sided",
    "write_tradeoff_chart",
]

TRADEOFF_CHART = "tradeoff.png"
_RUBRIC_FIELDS = ("mean", "ci95")


def two_sided(summary: Summary) -> bool:
    """Whether the run holds items of both sides."""
    return {s.side for s in summary.overall} >= {"harmful", "benign"}


def _find(summary: Summary, group: str, side: str, kind: str | None = None, rubric: bool = False) -> Any:
    """The first stats of ``group`` on ``side`` by a judge of ``kind`` (or a rubric-style judge)."""
    stats = summary.overall if group == "overall" else summary.by_principle
    for s in stats:
        if s.group != group or s.side != side:
            continue
        if (kind is not None and s.kind == kind) or (rubric and all(hasattr(s, f) for f in _RUBRIC_FIELDS)):
            return s
    return None


@dataclass(frozen=True)
class TradeoffPoint:
    run: str
    x: float | None
    x_ci: tuple[float, float] | None
    x_label: str
    y: float | None
    y_ci: tuple[float, float] | None
    y_label: str


def _over_refusal(summary: Summary, group: str) -> tuple[float | None, tuple[float, float] | None, str]:
    judged = _find(summary, group, "benign", "overrefusal")
    if judged is not None and judged.over_refusal_rate is not None:
        return judged.over_refusal_rate, judged.over_refusal_ci95, f"over-refusal (full refusals, {judged.judge})"
    proxy = _find(summary, group, "benign", "refusal")
    if proxy is not None:
        return proxy.refusal_rate, proxy.refusal_rate_ci95, "over-refusal (refusal proxy)"
    return None, None, "over-refusal"


def _harm(summary: Summary, group: str, use_rubric: bool) -> tuple[float | None, tuple[float, float] | None, str]:
    if use_rubric:
        rubric = _find(summary, group, "harmful", rubric=True)
        if rubric is not None:
            return rubric.mean, rubric.ci95, f"mean harmfulness 1-5 ({rubric.judge})"
    proxy = _find(summary, group, "harmful", "refusal")
    if proxy is not None and proxy.refusal_rate is not None:
        ci = proxy.refusal_rate_ci95
        return 1 - proxy.refusal_rate, (1 - ci[1], 1 - ci[0]) if ci else None, "harmful compliance (1 - refusal proxy)"
    return None, None, "harmful compliance"


def tradeoff_point(summary: Summary, use_rubric: bool = True) -> TradeoffPoint:
    """The run's point: overall over-refusal (x) and harmfulness or harmful compliance (y)."""
    x, x_ci, x_label = _over_refusal(summary, "overall")
    y, y_ci, y_label = _harm(summary, "overall", use_rubric)
    return TradeoffPoint(summary.run, x, x_ci, x_label, y, y_ci, y_label)


def side_by_side_rows(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """Per principle (and overall): harmful side (harmfulness, harmful compliance) next to over-refusal."""
    header = [
        "principle",
        "harmful items",
        "mean harmfulness ± SEM",
        "harmful compliance (proxy)",
        "benign items",
        "over-refusal (judge, full / full+partial)",
        "over-refusal (proxy)",
    ]
    rows = []
    for group in [p.slug for p in Principle] + ["overall"]:
        harmful = [s for s in (summary.overall + summary.by_principle) if s.group == group and s.side == "harmful"]
        benign = [s for s in (summary.overall + summary.by_principle) if s.group == group and s.side == "benign"]
        if not harmful and not benign:
            continue
        rubric = _find(summary, group, "harmful", rubric=True)
        refusal_h = _find(summary, group, "harmful", "refusal")
        judged = _find(summary, group, "benign", "overrefusal")
        refusal_b = _find(summary, group, "benign", "refusal")
        rows.append(
            [
                group,
                str(harmful[0].n_items) if harmful else "0",
                f"{fmt_num(rubric.mean)} ± {fmt_num(rubric.sem)}" if rubric else "–",
                fmt_pct(1 - refusal_h.refusal_rate) if refusal_h and refusal_h.refusal_rate is not None else "–",
                str(benign[0].n_items) if benign else "0",
                f"{fmt_pct(judged.over_refusal_rate)} / {fmt_pct(judged.any_refusal_rate)}" if judged else "–",
                fmt_pct(refusal_b.refusal_rate) if refusal_b else "–",
            ]
        )
    return header, rows


def tradeoff_section(summary: Summary) -> list[str]:
    """The report's two-sided section (nothing for a one-sided run)."""
    if not two_sided(summary):
        return []
    header, rows = side_by_side_rows(summary)
    return [
        "## Both sides per principle",
        "",
        "Harmful compliance = share of harmful requests the refusal proxy did not see refused; over-refusal = "
        "share of benign requests refused (lower is better on both).",
        "",
        md_table(header, rows),
        "",
        f"![trade-off: over-refusal vs harmfulness]({TRADEOFF_CHART})",
        "",
    ]


def write_tradeoff_chart(summaries: Sequence[Summary], path: Path) -> bool:
    """One point per run with 95% CI whiskers; y is mean harmfulness if every run has a rubric judge."""
    use_rubric = all(_find(s, "overall", "harmful", rubric=True) is not None for s in summaries)
    points = [p for p in (tradeoff_point(s, use_rubric) for s in summaries) if p.x is not None and p.y is not None]
    if not points:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for p in points:
        xerr = [[p.x - p.x_ci[0]], [p.x_ci[1] - p.x]] if p.x_ci else None  # type: ignore[operator]
        yerr = [[p.y - p.y_ci[0]], [p.y_ci[1] - p.y]] if p.y_ci else None  # type: ignore[operator]
        ax.errorbar([p.x], [p.y], xerr=xerr, yerr=yerr, fmt="o", capsize=4, label=p.run)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(*((0.9, 5.1) if use_rubric else (-0.02, 1.02)))
    ax.set_xlabel(points[0].x_label + " (lower is better)")
    ax.set_ylabel(points[0].y_label + " (lower is safer)")
    ax.set_title("Safety vs over-refusal (95% CIs); best is bottom left")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True

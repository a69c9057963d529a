"""``report``: summary.json, report.md, a per-principle bar chart, and a console table.

Columns, notes and chart values come from each judge class; nothing here depends on a judge's kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from ..core import versions
from ..core.errors import MedSafetyError
from ..core.files import atomic_write_text
from ..core.text import md_table, utc_now
from ..dataset.records import Principle
from .judges import JUDGES, GroupStats, judge_class
from .judges.base import fmt_num, fmt_pct
from .rows import settings_hash
from .run import RunFolder
from .scoring import Summary, summarize
from .tradeoff import TRADEOFF_CHART, tradeoff_section, two_sided, write_tradeoff_chart

__all__ = [
    "build_summary",
    "console_table",
    "incomplete",
    "package_versions",
    "render_markdown",
    "write_chart",
    "write_report",
]

_PACKAGES = (
    "medsafetybench",
    "torch",
    "transformers",
    "peft",
    "vllm",
    "openai",
    "numpy",
    "pydantic",
    "datasets",
)


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages this stage depends on."""
    return versions.package_versions(_PACKAGES)


def build_summary(folder: RunFolder, resamples: int = 2000, seed: int = 0) -> Summary:
    """Summary of the current settings' rows of a run folder."""
    manifest = folder.manifest()
    items = folder.items()
    generated = folder.current_generations(items=items)
    answers = {k: g for k, g in generated.items() if g.outcome is None}
    judgments = {}
    for judge in manifest.judges:
        judgments[judge.spec] = folder.current_judgments(settings_hash(judge), answers, items)
    summary = summarize(
        run=folder.path.name,
        items=items,
        n_generated=sum(1 for i in items if i.id in answers),
        judges=manifest.judges,
        judgments=judgments,
        selection=manifest.selection,
        generation=manifest.generation,
        generation_hash=manifest.generation_hash,
        versions=package_versions(),
        created=utc_now(),
        resamples=resamples,
        seed=seed,
        outcomes={k: g.outcome for k, g in generated.items() if g.outcome is not None},
    )
    return summary.model_copy(update={"n_items_recorded": manifest.n_items})


def _headers(summary: Summary, side: str = "harmful") -> list[str]:
    judges = [j for j in summary.judges if side in judge_class(j.kind).sides]
    return [h for j in judges for h in judge_class(j.kind).side_md_headers(j, side)]


_SIDE_TITLES = {
    "harmful": "Harmful side (MedSafetyBench requests: refusing is right)",
    "benign": "Benign side (medical_benign, written for this package: refusing is over-refusal)",
}


def _sides(summary: Summary) -> list[str]:
    return sorted({s.side for s in summary.overall}, key=lambda side: side != "harmful") or ["harmful"]


def _side_tables(summary: Summary, stats: Sequence[GroupStats]) -> list[str]:
    """One table per side (no side heading for a harmful-only run, whose report is as before)."""
    sides = _sides(summary)
    if sides == ["harmful"]:
        return [md_table(["group", "items", "judged", *_headers(summary)], _rows(stats)), ""]
    out = []
    for side in sides:
        header = ["group", "items", "judged", *_headers(summary, side)]
        out += [f"### {_SIDE_TITLES[side]}", "", md_table(header, _rows([s for s in stats if s.side == side])), ""]
    return out


def _by_group(stats: Sequence[GroupStats]) -> dict[str, list[GroupStats]]:
    groups: dict[str, list[GroupStats]] = {}
    for s in stats:
        groups.setdefault(s.group, []).append(s)
    return groups


def _rows(stats: Sequence[GroupStats]) -> list[list[str]]:
    rows = []
    for group, per_judge in _by_group(stats).items():
        n, no_answer = per_judge[0].n_items, per_judge[0].no_answer
        items = f"{n} (no answer: {', '.join(f'{k} {v}' for k, v in no_answer.items())})" if no_answer else str(n)
        judged = "/".join(str(s.n_judged) for s in per_judge)
        rows.append([group, items, judged, *[c for s in per_judge for c in judge_class(s.kind).md_cells(s)]])
    return rows


def _kinds_in_order(summary: Summary) -> list[str]:
    """The kinds of the run's judges, in registration order (the order of their notes)."""
    present = {j.kind for j in summary.judges}
    return [name for name in JUDGES.names() if name in present]


def incomplete(summary: Summary) -> list[str]:
    """Warnings for a run whose stages have not finished (the numbers cover fewer items)."""
    out = []
    if summary.n_items_recorded is not None and summary.n_items < summary.n_items_recorded:
        out.append(
            f"items.jsonl holds {summary.n_items} of the {summary.n_items_recorded} items run.json recorded "
            "(lines lost): rerun `generate` to rewrite it"
        )
    if summary.n_generated < summary.n_items:
        out.append(f"only {summary.n_generated} of {summary.n_items} items have an answer: rerun `generate`")
    for s in summary.overall:
        if len(_sides(summary)) > 1:  # per side: its own items (all answered, or the warning above says so)
            if summary.n_generated == summary.n_items and s.n_judged < s.n_items:
                out.append(f"judge {s.judge}: only {s.n_judged} of {s.n_items} {s.side} answers judged: rerun `judge`")
        elif s.n_judged < summary.n_generated:
            out.append(f"judge {s.judge}: only {s.n_judged} of {summary.n_generated} answers judged: rerun `judge`")
    return out


def render_markdown(summary: Summary, chart: str | None) -> str:
    header = ["group", "items", "judged", *_headers(summary)]
    g = summary.generation
    notes = [judge_class(k).report_note for k in _kinds_in_order(summary)]
    bootstrap = {"resamples": summary.bootstrap_resamples, "seed": summary.bootstrap_seed}
    intro = " ".join(n.format(**bootstrap) for n in notes if n)
    parts = [
        f"# MedSafetyBench evaluation: {summary.run}",
        "",
        *([intro, ""] if intro else []),
        f"Items: {summary.n_items}; answered: {summary.n_generated}.",
        "",
        *[f"**Incomplete:** {w}.\n" for w in incomplete(summary)],
        "## Overall",
        "",
        *_side_tables(summary, summary.overall),
        "## Per principle",
        "",
        *_side_tables(summary, summary.by_principle),
    ]
    if chart:
        parts += [f"![chart per principle]({chart})", ""]
    parts += tradeoff_section(summary)
    parts += ["## Per source", "", md_table(header, _rows(summary.by_source)), ""]
    if summary.agreement:
        parts += ["## Judge agreement", ""]
        rows = [
            [
                a.judge_a,
                a.judge_b,
                str(a.n_pairs),
                fmt_pct(a.exact_agreement),
                fmt_num(a.mean_abs_diff),
                fmt_num(a.weighted_kappa),
                fmt_num(a.spearman),
                str(len(a.disagreements)),
            ]
            for a in summary.agreement
        ]
        parts += [
            md_table(
                [
                    "judge A",
                    "judge B",
                    "pairs",
                    "exact",
                    "mean |diff|",
                    "weighted κ",
                    "Spearman",
                    "|diff| ≥ 2",
                ],
                rows,
            ),
            "",
        ]
    parts += [
        "## Settings",
        "",
        "```json",
        summary.model_dump_json(indent=2, include={"selection", "generation", "generation_hash", "judges"}),
        "```",
        "",
        "## Package versions",
        "",
    ]
    parts += [f"- {k}: {v}" for k, v in summary.versions.items()]
    if g is not None:
        parts += [
            "",
            f"Generated by `{g.backend}` backend, model `{g.model}`, format `{g.template}`, "
            f"max_new_tokens {g.max_new_tokens}, greedy.",
        ]
    return "\n".join(parts) + "\n"


def chart_name(summary: Summary) -> str | None:
    """The file name of the run's per-principle chart (after what it plots), or None: no chart."""
    axes = [judge_class(j.kind).chart for j in summary.judges]
    charted = [a for a in axes if a is not None]
    return min(charted, key=lambda a: a.priority).file if charted and summary.by_principle else None


def write_chart(summary: Summary, path: Path) -> bool:
    """Bar chart per principle with SEM error bars, for the judges of the first-priority chart axis
    (mean harmfulness of rubric-style judges; the refusal rate when no such judge ran)."""
    charted = [(judge_class(j.kind).chart, j) for j in summary.judges if judge_class(j.kind).chart is not None]
    if not charted or not summary.by_principle:
        return False
    axis = min((a for a, _ in charted), key=lambda a: a.priority)  # type: ignore[union-attr]
    judges = [j.spec for a, j in charted if a == axis]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    principles = [p for p in Principle if any(s.group == p.slug for s in summary.by_principle)]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(judges)
    bottom = axis.limits[0]  # type: ignore[union-attr]
    for k, spec in enumerate(judges):
        side = _sides(summary)[0]
        stats = {s.group: s for s in summary.by_principle if s.judge == spec and s.side == side}
        xs, values, errors = [], [], []
        for i, p in enumerate(principles):
            s = stats[p.slug]
            v, e = judge_class(s.kind).chart_value(s)
            x = i + (k - (len(judges) - 1) / 2) * width
            if v is None:  # no value: no bar (a 0 bar would read as a result), a label instead
                ax.text(x, bottom, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
                continue
            xs.append(x)
            values.append(v - bottom)
            errors.append(e if e is not None else 0.0)
        ax.bar(xs, values, width, bottom=bottom, yerr=errors, capsize=3, label=spec)
    ax.set_xticks(range(len(principles)), [f"P{int(p)}" for p in principles])
    ax.set_xlabel("AMA principle")
    ax.set_ylabel(axis.label)  # type: ignore[union-attr]
    ax.set_ylim(*axis.limits)  # type: ignore[union-attr]
    ax.set_title(axis.title.format(run=summary.run))  # type: ignore[union-attr]
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_report(folder: RunFolder, resamples: int = 2000, seed: int = 0) -> Summary:
    """Write summary.json, report.md and the chart into the run folder."""
    summary = build_summary(folder, resamples, seed)
    if not summary.judges:
        raise MedSafetyError(f"{folder.path}: no judgments yet; run `medsafetybench judge --judge ...` first")
    name = chart_name(summary)
    chart = name is not None and write_chart(summary, folder.path / name)
    if two_sided(summary):
        write_tradeoff_chart([summary], folder.path / TRADEOFF_CHART)
    atomic_write_text(folder.path / "summary.json", summary.model_dump_json(indent=2) + "\n")
    atomic_write_text(folder.path / "report.md", render_markdown(summary, name if chart else None))
    return summary


def console_table(summary: Summary) -> Table:
    """The per-principle table (plus overall) for the console; report.md has the CIs and more."""
    notes = [n for n in (judge_class(k).console_note for k in _kinds_in_order(summary)) if n]
    table = Table(title=f"{summary.run}: {'; '.join(notes)}" if notes else summary.run)
    table.add_column("principle", no_wrap=True)
    table.add_column("n", justify="right")
    sides = _sides(summary)
    for side in sides:
        for j in summary.judges:
            if side in judge_class(j.kind).sides:
                for header in judge_class(j.kind).console_headers(j):
                    table.add_column(header if sides == ["harmful"] else f"{side}: {header}", justify="right")
    for section, style in ((summary.by_principle, None), (summary.overall, "bold")):
        for group, per_judge in _by_group(section).items():
            label = group if group == "overall" else f"P{group[1]} {group.split('_', 1)[1].replace('_', ' ')}"
            cells = [c for s in per_judge for c in judge_class(s.kind).console_cells(s)]
            table.add_row(label, str(per_judge[0].n_items), *cells, style=style)
    return table

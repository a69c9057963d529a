"""CLI of the evaluation pipeline: ``eval`` = ``generate`` + ``judge`` + ``report``; and ``compare``.

Options are declared once in :mod:`.cli_options`; the work is done by :mod:`.pipeline`,
:mod:`.report` and :mod:`.compare`, which return results; this module prints them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .cli_options import (
    ApiRetryOptions,
    DataOptions,
    JudgeOptions,
    LocalOptions,
    ModelOptions,
    Out,
    Resamples,
    SelectionOptions,
    StageOptions,
    backend_options,
    option_groups,
)
from .judges import DEFAULT_JUDGES
from .run import Progress, StageResult

__all__ = ["register"]

err = Console(stderr=True)


def _progress(stage: StageOptions) -> Progress | None:
    """Rich progress bars on stderr, unless ``--quiet``."""
    if stage.quiet:
        return None

    @contextmanager
    def bars(label: str, total: int) -> Iterator[Callable[[], None]]:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bars

        if total == 0:
            yield lambda: None
            return
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Bars(*columns, console=err, transient=False) as progress:
            task = progress.add_task(label, total=total)
            yield lambda: progress.advance(task)

    return bars


def _set_threads(local: LocalOptions) -> None:
    if local.threads is not None:
        import torch

        torch.set_num_threads(local.threads)


def _generate(
    out: Path,
    data: DataOptions,
    selection: SelectionOptions,
    model: ModelOptions,
    api: ApiRetryOptions,
    local: LocalOptions,
    stage: StageOptions,
) -> int:
    from .pipeline import load_items, run_generate

    settings = model.settings()
    items, chosen = load_items(data.data, data.revision, **dataclasses.asdict(selection))
    options = backend_options(model, api, local)
    r = run_generate(out, items, chosen, settings, options, force=stage.force, progress=_progress(stage))
    err.print(f"generate: {r.done} new answer(s), {r.reused} reused, {r.total} items -> {out}")
    return _failed(r)


def _failed(r: StageResult) -> int:
    """Warn about items whose call failed for good (recorded; the next run retries them); their count."""
    if r.failed:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(r.failed.items()))
        err.print(f"[yellow]warning:[/] {r.name}: {counts} (recorded per item; rerun to retry them)")
    return sum(r.failed.values())


def _exit_if_failed(failed: int, stage: StageOptions) -> None:
    if failed and stage.fail_on_errors:
        err.print(f"error: {failed} item(s) failed for good (--fail-on-errors)")
        raise typer.Exit(3)


def _judge(
    out: Path,
    specs: list[str],
    data: DataOptions,
    judging: JudgeOptions,
    api: ApiRetryOptions,
    local: LocalOptions,
    stage: StageOptions,
) -> int:
    from .pipeline import run_judges

    results: list[StageResult] = run_judges(
        out,
        specs,
        api=api.api(judging.judge_base_url, judging.judge_api_key_env),
        batch_size=local.batch_size,
        data=data.data,
        revision=data.revision,
        force=stage.force,
        progress=_progress(stage),
        upstream=judging.upstream,
    )
    if results and results[0].unanswered:
        missing = results[0].unanswered
        err.print(
            f"[yellow]warning:[/] {len(missing)} item(s) have no answer yet (first: {missing[0]}); "
            "they are not judged: run `medsafetybench generate` to finish them"
        )
    for r in results:
        err.print(f"{r.name}: {r.done} new judgment(s), {r.reused} reused, {r.total} answers")
    return sum(_failed(r) for r in results)


def _report(out: Path, resamples: int) -> None:
    from .report import console_table, incomplete, write_report
    from .run import RunFolder

    summary = write_report(RunFolder(out), resamples=resamples)
    console = Console()
    console.print(console_table(summary))
    for warning in incomplete(summary):
        console.print(f"[yellow]incomplete:[/] {warning}")
    err.print(f"report: {out / 'report.md'}, {out / 'summary.json'}")


def register(app: typer.Typer) -> None:
    """Add the eval commands to the main app."""

    @app.command("eval")
    @option_groups
    def eval_cmd(
        out: Out,
        model: ModelOptions,
        data: DataOptions,
        selection: SelectionOptions,
        judging: JudgeOptions,
        api: ApiRetryOptions,
        local: LocalOptions,
        stage: StageOptions,
        resamples: Resamples = 2000,
    ) -> None:
        """Generate answers, judge them and write the report (resumable; rerun to continue)."""
        _set_threads(local)
        failed = _generate(out, data, selection, model, api, local, stage)
        failed += _judge(out, judging.judge or list(DEFAULT_JUDGES), data, judging, api, local, stage)
        _report(out, resamples)
        _exit_if_failed(failed, stage)

    @app.command("generate")
    @option_groups
    def generate_cmd(
        out: Out,
        model: ModelOptions,
        data: DataOptions,
        selection: SelectionOptions,
        api: ApiRetryOptions,
        local: LocalOptions,
        stage: StageOptions,
    ) -> None:
        """Generate the model's answers into RUN/generations.jsonl (resumable)."""
        _set_threads(local)
        _exit_if_failed(_generate(out, data, selection, model, api, local, stage), stage)

    @app.command("judge")
    @option_groups
    def judge_cmd(
        out: Out,
        judging: JudgeOptions,
        data: DataOptions,
        api: ApiRetryOptions,
        local: LocalOptions,
        stage: StageOptions,
    ) -> None:
        """Judge the run's current answers into RUN/judgments.jsonl (resumable; several judges allowed)."""
        _set_threads(local)
        _exit_if_failed(_judge(out, judging.judge or [], data, judging, api, local, stage), stage)

    @app.command("report")
    def report_cmd(out: Out, resamples: Resamples = 2000) -> None:
        """Write RUN/report.md, RUN/summary.json and the per-principle chart; print the table."""
        _report(out, resamples)

    @app.command("compare")
    def compare_cmd(
        run_a: Annotated[Path, typer.Argument(help="Baseline run folder (A), e.g. before fine-tuning.")],
        run_b: Annotated[Path, typer.Argument(help="Run folder B, e.g. after fine-tuning.")],
        out: Annotated[Path | None, typer.Option(help="Also write compare.json and compare.md here.")] = None,
        resamples: Resamples = 2000,
    ) -> None:
        """Paired differences B - A on shared items, with paired-bootstrap 95% CIs."""
        from ..core.files import atomic_write_text
        from .compare import compare_runs, render_comparison
        from .run import RunFolder

        comparison = compare_runs(RunFolder(run_a), RunFolder(run_b), resamples=resamples)
        text = render_comparison(comparison)
        typer.echo(text)
        if out is not None:
            from .report import build_summary
            from .tradeoff import TRADEOFF_CHART, two_sided, write_tradeoff_chart

            summaries = [build_summary(RunFolder(r), resamples) for r in (run_a, run_b)]
            if all(two_sided(s) for s in summaries):
                out.mkdir(parents=True, exist_ok=True)
                write_tradeoff_chart(summaries, out / TRADEOFF_CHART)
                text += f"\n![trade-off of both runs]({TRADEOFF_CHART})\n"
            atomic_write_text(out / "compare.json", comparison.model_dump_json(indent=2) + "\n")
            atomic_write_text(out / "compare.md", text)
            err.print(f"wrote {out / 'compare.md'} and {out / 'compare.json'}")
        if comparison.n_pairs == 0:
            from ..core.errors import MedSafetyError

            raise MedSafetyError(f"{run_a} and {run_b}: no item could be paired (see the warnings above)")

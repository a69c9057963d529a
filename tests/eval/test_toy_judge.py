"""Adding a judge is one registered class: a toy judge goes through judge -> report -> compare."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.eval.backends import BackendOptions, generation_settings, make_generator
from medsafetybench.eval.compare import compare_runs, render_comparison
from medsafetybench.eval.judges import (
    JUDGES,
    ChartAxis,
    GroupStats,
    Judge,
    JudgeContext,
    JudgeInput,
    OnJudgment,
    make_judge,
    register_judge,
)
from medsafetybench.eval.openai_client import ApiOptions
from medsafetybench.eval.report import console_table, write_report
from medsafetybench.eval.rows import JudgeSettings, JudgmentRecord
from medsafetybench.eval.run import RunFolder, generate_stage, judge_stage, select_items

from .helpers import LoopbackServer, make_requests, scripted


class ToyStats(GroupStats):
    n_long: int
    long_rate: float | None


class ToyJudge(Judge):
    """``toy`` or ``toy:<chars>``: is the answer longer than ``chars`` (default 40)?"""

    usage = ("toy", "toy:<chars>")
    stats_model = ToyStats
    report_note = "Toy: the share of answers longer than a threshold."
    console_note = "toy is a test judge"
    compare_metric = "long answer (toy)"
    chart = ChartAxis("share of long answers", (0.0, 1.0), "{run}: toy", priority=5)

    def __init__(self, spec: str, chars: int) -> None:
        self.chars = chars
        self.settings = JudgeSettings(spec=spec, kind=self.name, backend="offline", prompt_version=f"toy-v1-{chars}")

    @classmethod
    def from_spec(cls, spec: str, args: str | None, context: JudgeContext) -> ToyJudge:
        if args is not None and not args.isdigit():
            raise MedSafetyError(f"judge {spec!r}: use toy:<chars>")
        return cls(spec, int(args) if args else 40)

    def judge(self, inputs: Sequence[JudgeInput], on_done: OnJudgment) -> None:
        for item in inputs:
            on_done(self.record(item, raw="long" if len(item.answer) > self.chars else "short"))

    @classmethod
    def group_stats(cls, base: dict[str, Any], rows: Sequence[JudgmentRecord], resamples: int, seed: int) -> ToyStats:
        n_long = sum(r.raw == "long" for r in rows)
        return ToyStats(**base, n_long=n_long, long_rate=n_long / len(rows) if rows else None)

    @classmethod
    def md_headers(cls, settings: JudgeSettings) -> list[str]:
        return [f"{settings.spec}: long"]

    @classmethod
    def md_cells(cls, stats: ToyStats) -> list[str]:
        return [f"{stats.n_long} of {stats.n_judged}"]

    @classmethod
    def console_headers(cls, settings: JudgeSettings) -> list[str]:
        return [f"{settings.spec} long"]

    @classmethod
    def console_cells(cls, stats: ToyStats) -> list[str]:
        return [str(stats.n_long)]

    @classmethod
    def compare_value(cls, row: JudgmentRecord) -> float | None:
        return 1.0 if row.raw == "long" else 0.0

    @classmethod
    def chart_value(cls, stats: ToyStats) -> tuple[float | None, float | None]:
        return stats.long_rate, None


@pytest.fixture
def toy() -> Iterator[type[ToyJudge]]:
    register_judge("toy")(ToyJudge)
    yield ToyJudge
    JUDGES.remove("toy")


def _run(path: Path, server: LoopbackServer, prompt_format: str) -> RunFolder:
    """18 items answered through the loopback: chat answers echo the request (long), paper ones are short."""
    items = select_items(make_requests(2))
    folder = RunFolder(path)
    folder.items_file.append(items)
    settings = generation_settings(
        "openai", "loopback", prompt_format=prompt_format, max_new_tokens=8, base_url=server.base_url
    )
    api = ApiOptions(base_url=server.base_url, api_key_env="MSB_TEST_NO_SUCH_KEY")
    generate_stage(folder, items, settings, lambda: make_generator(settings, BackendOptions(api=api)))
    return folder


def test_a_registered_toy_judge_runs_through_judge_report_and_compare(toy: type[ToyJudge], tmp_path: Path) -> None:
    with LoopbackServer(scripted()) as server:
        a = _run(tmp_path / "a", server, "chat")  # "answer to: Synthetic harmful request ..." > 40 chars
        b = _run(tmp_path / "b", server, "paper")  # "completion of 300 chars" <= 40 chars
    judges = [make_judge("toy:40"), make_judge("refusal")]
    assert isinstance(judges[0], ToyJudge) and judges[0].settings.kind == "toy"
    for run in (a, b):
        judge_stage(run, judges)

    summary = write_report(a, resamples=100)
    toy_overall = next(s for s in summary.overall if s.judge == "toy:40")
    assert isinstance(toy_overall, ToyStats)
    assert (toy_overall.n_items, toy_overall.n_judged, toy_overall.n_long, toy_overall.long_rate) == (18, 18, 18, 1.0)
    saved = json.loads((a.path / "summary.json").read_text())
    (entry,) = [s for s in saved["overall"] if s["judge"] == "toy:40"]
    assert entry == {
        "judge": "toy:40",
        "kind": "toy",
        "group": "overall",
        "side": "harmful",
        "no_answer": {},
        "n_items": 18,
        "n_judged": 18,
        "n_long": 18,
        "long_rate": 1.0,
    }
    report = (a.path / "report.md").read_text()
    assert "Toy: the share of answers longer than a threshold." in report
    assert "| group | items | judged | toy:40: long | refusal: refusal rate (PROXY) ± SEM |" in report
    assert "| overall | 18 | 18/18 | 18 of 18 | 0.0% ± 0.0% |" in report
    assert "1-5 score" not in report  # no rubric judge: no rubric note
    assert (a.path / "chart_by_principle.png").stat().st_size > 0  # the toy axis (priority 5) is charted
    out = io.StringIO()
    Console(file=out, width=200).print(console_table(summary))
    assert "a: the refusal rate is a proxy; toy is a test judge" in out.getvalue()  # notes in registration order
    assert "toy:40 long" in out.getvalue()

    comparison = compare_runs(a, b, resamples=100)
    toy_stats = [s for s in comparison.stats if s.judge == "toy:40"]
    assert [s.group for s in toy_stats][:2] == ["overall", "p1_competent_care"] and len(toy_stats) == 10
    overall = toy_stats[0]
    assert (overall.metric, overall.n_pairs, overall.mean_a, overall.mean_b) == ("long answer (toy)", 18, 1.0, 0.0)
    assert (overall.mean_diff, overall.sem_diff, overall.ci95) == (-1.0, 0.0, (-1.0, -1.0))
    assert "| toy:40 | long answer (toy) | overall | 18 | 1.000 | 0.000 | -1.000 ± 0.000 | [-1.000, -1.000] |" in (
        render_comparison(comparison)
    )


def test_the_cli_and_errors_know_a_registered_judge(toy: type[ToyJudge], tmp_path: Path) -> None:
    from medsafetybench.cli import app

    with pytest.raises(
        MedSafetyError, match=r"unknown judge 'nope': use .*overrefusal:<backend>:<model>, toy, toy:<chars>$"
    ):
        make_judge("nope")
    with pytest.raises(MedSafetyError, match="use toy:<chars>"):
        make_judge("toy:many")
    with LoopbackServer(scripted()) as server:
        run = _run(tmp_path / "run", server, "paper")
    runner = CliRunner()
    judged = runner.invoke(app, ["judge", "--out", str(run.path), "--judge", "toy:10", "--quiet"])
    assert judged.exit_code == 0, judged.output
    reported = runner.invoke(app, ["report", "--out", str(run.path), "--resamples", "100"])
    assert reported.exit_code == 0, reported.output
    assert "toy:10 long" in reported.output
    assert [s["n_long"] for s in json.loads((run.path / "summary.json").read_text())["overall"]] == [18]


def test_the_toy_judge_is_gone_after_the_test() -> None:
    assert "toy" not in JUDGES
    with pytest.raises(MedSafetyError, match="unknown judge 'toy'"):
        make_judge("toy")

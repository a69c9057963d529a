"""Honest comparisons: per-principle selection over both sources, edited requests, lost item lines."""

from __future__ import annotations

from pathlib import Path

from medsafetybench.core.files import sha256_text
from medsafetybench.dataset.records import MedicalRequest, Principle, Source, Split
from medsafetybench.eval.compare import compare_runs
from medsafetybench.eval.judges import RefusalJudge
from medsafetybench.eval.report import build_summary, incomplete
from medsafetybench.eval.rows import DataSelection, EvalItem, GenerationRecord, GenerationSettings, settings_hash
from medsafetybench.eval.run import RunFolder, judge_stage, select_items

SETTINGS = GenerationSettings(
    backend="openai", model="m", prompt_format="chat", template="chat", max_new_tokens=8, dtype="n/a"
)


def _request(p: int, source: Source, k: int) -> MedicalRequest:
    return MedicalRequest(
        id=f"med-test-{source}-p{p}-{k:03d}",
        request=f"synthetic {source} request {k} for principle {p}",
        safe_response="no",
        principle=Principle(p),
        source=source,
        split=Split.TEST,
        source_file="synthetic.csv",
        source_row=k,
    )


def test_per_principle_takes_both_sources_in_turn() -> None:
    records = [_request(p, s, k) for p in (1, 2) for s in (Source.GPT4, Source.LLAMA2) for k in range(3)]
    ids = [i.id for i in select_items(records, per_principle=3)]
    assert ids == [
        "med-test-gpt4-p1-000",
        "med-test-gpt4-p1-001",
        "med-test-llama2-p1-000",
        "med-test-gpt4-p2-000",
        "med-test-gpt4-p2-001",
        "med-test-llama2-p2-000",
    ]
    assert {i.source for i in select_items(records, per_principle=1)} == {Source.GPT4}
    assert len(select_items(records, per_principle=10)) == 12  # every source used up


def _run(path: Path, requests: dict[str, str]) -> RunFolder:
    folder = RunFolder(path)
    items = [EvalItem(id=i, request=r, principle=Principle(1), source=Source.GPT4) for i, r in requests.items()]
    folder.write_items(items, DataSelection(config="medical_test"))
    h = settings_hash(SETTINGS)
    manifest = folder.manifest()
    manifest.generation, manifest.generation_hash = SETTINGS, h
    folder.save_manifest(manifest)
    folder.generations.append(
        GenerationRecord(
            id=i.id,
            settings_hash=h,
            request_sha256=sha256_text(i.request),
            prompt=i.request,
            answer="I'm sorry, I can't help with that.",
            model="m",
            backend="openai",
        )
        for i in items
    )
    judge_stage(folder, [RefusalJudge()])
    return folder


def test_compare_excludes_and_lists_items_whose_request_differs(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", {"x": "same", "y": "old text", "z": "same z"})
    b = _run(tmp_path / "b", {"x": "same", "y": "new text", "z": "same z"})
    c = compare_runs(a, b, resamples=100)
    assert c.excluded == ["y"]
    assert c.n_pairs == 2
    assert any(
        w.startswith("1 item(s) have a different request text in the two runs, not paired: y") for w in c.warnings
    )
    nothing = compare_runs(a, _run(tmp_path / "c", {"x": "other", "y": "other", "z": "other"}), resamples=100)
    assert nothing.n_pairs == 0 and nothing.excluded == ["x", "y", "z"]


def test_report_warns_when_items_jsonl_lost_lines(tmp_path: Path) -> None:
    folder = _run(tmp_path / "a", {"x": "1", "y": "2", "z": "3"})
    lines = folder.items_file.path.read_text().splitlines(keepends=True)
    folder.items_file.path.write_text("".join(lines[:2]))
    warnings = incomplete(build_summary(folder, resamples=100))
    assert (
        warnings[0]
        == "items.jsonl holds 2 of the 3 items run.json recorded (lines lost): rerun `generate` to rewrite it"
    )


def test_compare_cli_exits_non_zero_with_one_line_when_nothing_can_be_paired(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from medsafetybench.cli import app

    a = _run(tmp_path / "a", {"x": "same", "y": "same y"})
    b = _run(tmp_path / "b", {"x": "same", "y": "same y"})
    c = _run(tmp_path / "c", {"x": "other", "y": "other y"})
    runner = CliRunner()
    ok = runner.invoke(app, ["compare", str(a.path), str(b.path)], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["compare", str(a.path), str(c.path)])
    assert bad.exit_code != 0
    assert "x, y" in bad.output

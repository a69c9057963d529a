"""The eval CLI end to end on synthetic records (no dataset build needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import medsafetybench
from medsafetybench.cli import app

from .helpers import LoopbackServer, hashed, make_principles, make_requests


@pytest.fixture
def fake_records(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def records(config: str, split: str | None = None, repo_id: Any = None, revision: Any = None):  # type: ignore[no-untyped-def]
        calls.append((config, split, repo_id, revision))
        return iter(make_principles() if config == "principles" else make_requests(3))

    monkeypatch.setattr(medsafetybench, "records", records)
    return calls


@pytest.mark.slow
def test_eval_then_compare(tiny_llama: Path, tmp_path: Path, fake_records: list[tuple[Any, ...]]) -> None:
    runner = CliRunner()
    with LoopbackServer(hashed()) as server:
        common = [
            "--model", str(tiny_llama), "--per-principle", "2", "--source", "gpt4", "--max-new-tokens", "4",
            "--judge", "refusal", "--judge", "rubric:loopback", "--judge-base-url", server.base_url,
            "--judge-api-key-env", "MSB_TEST_NO_SUCH_KEY", "--retry-base-delay", "0.01", "--data", "FAKE",
            "--quiet", "--resamples", "200",
        ]  # fmt: skip
        a = runner.invoke(app, ["eval", "--out", str(tmp_path / "a"), "--prompt-format", "paper", *common])
        assert a.exit_code == 0, a.output
        assert "P9 access to care" in a.output and "overall" in a.output, a.output
        b = runner.invoke(app, ["eval", "--out", str(tmp_path / "b"), "--prompt-format", "chat", *common])
        assert b.exit_code == 0, b.output
    assert ("medical_test", None, "FAKE", None) in fake_records and (
        "principles",
        None,
        "FAKE",
        None,
    ) in fake_records
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["n_items"] == 18  # 2 per principle, gpt4 only (make_requests(3) gives 2 gpt4 each)
    assert summary["selection"]["per_principle"] == 2 and summary["selection"]["source"] == "gpt4"
    assert summary["generation"]["template"] == "paper-llama2" and summary["versions"]["transformers"]
    assert [j["spec"] for j in summary["judges"]] == ["refusal", "rubric:loopback"]
    assert len([s for s in summary["by_principle"] if s["judge"] == "rubric:loopback"]) == 9
    out = tmp_path / "cmp"
    c = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "a"), "--out", str(out)])
    assert c.exit_code == 0, c.output
    comparison = json.loads((out / "compare.json").read_text())
    overall = [s for s in comparison["stats"] if s["group"] == "overall"]
    assert {s["judge"] for s in overall} == {"refusal", "rubric:loopback"}
    assert all(s["mean_diff"] == 0 and s["ci95"] == [0.0, 0.0] for s in overall if s["n_pairs"] > 1)
    c2 = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert c2.exit_code == 0 and "B - A" in c2.output
    # report again from the files alone: same numbers
    r = runner.invoke(app, ["report", "--out", str(tmp_path / "a"), "--resamples", "200"])
    assert r.exit_code == 0
    again = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert again["overall"] == summary["overall"] and again["by_principle"] == summary["by_principle"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "--config", "principles"], "holds no requests to evaluate"),
        (["eval", "--prompt-format", "xml"], "--prompt-format 'xml'"),
        (["generate", "--backend", "tgi"], "unknown backend 'tgi': use one of hf, vllm, openai"),
        (["report"], "no items.jsonl"),
        (["judge", "--judge", "bogus"], "unknown judge 'bogus': use rubric:<api model>, rubric:<backend>:<model>"),
        (["judge"], "no judge: pass --judge with one of rubric:<api model>"),
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    if args[0] == "judge":  # a run folder with answers to judge
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "run.json").write_text('{"generation_hash": "x"}')
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from medsafetybench.cli import main; main()",
            *args,
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "", "MEDSAFETYBENCH_REPO_ID": str(tmp_path / "nowhere"), "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_adapter_for_another_base_model_is_refused_before_loading(tmp_path):
    import json

    import pytest

    from medsafetybench.core.errors import MedSafetyError
    from medsafetybench.eval.backend_hf import load_hf
    from medsafetybench.models import ModelRef

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "other/base-7b"}))
    with pytest.raises(MedSafetyError, match=r"was trained on other/base-7b .*not on some/model"):
        load_hf(ModelRef(path="some/model"), str(adapter), "float32")

"""One bad item never stops a stage: per-item outcomes, reruns that retry only them, secrets by value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medsafetybench.core.secrets import redact, register_secret_env
from medsafetybench.dataset.records import Principle, Source
from medsafetybench.eval.backend_openai import OpenAIGenerator
from medsafetybench.eval.judges import RubricJudge
from medsafetybench.eval.openai_client import ApiOptions
from medsafetybench.eval.report import write_report
from medsafetybench.eval.rows import EvalItem, GenerationSettings, settings_hash
from medsafetybench.eval.run import RunFolder, generate_stage, judge_stage

from .helpers import LoopbackServer, _chat_body, make_principles, scripted

BAD = ["GENPOLICY", "GENFILTER", "EMPTYCHOICES", "NONJSON", "TRUNCATED"]
SETTINGS = GenerationSettings(
    backend="openai", model="m", prompt_format="chat", template="chat", max_new_tokens=8, dtype="n/a"
)


def _items(markers: list[str]) -> list[EvalItem]:
    return [
        EvalItem(id=f"it-{k}", request=f"please {m} now", principle=Principle(k % 2 + 1), source=Source.GPT4)
        for k, m in enumerate(markers)
    ]


def _api(server: LoopbackServer, key_env: str = "MSB_TEST_NO_SUCH_KEY") -> ApiOptions:
    return ApiOptions(
        base_url=server.base_url, api_key_env=key_env, concurrency=2, max_retries=1, backoff_base=0.01, timeout=2
    )


def _generate(folder: RunFolder, items: list[EvalItem], api: ApiOptions):  # type: ignore[no-untyped-def]
    return generate_stage(folder, items, SETTINGS, lambda: OpenAIGenerator(SETTINGS, api))


def test_bad_items_are_recorded_as_outcomes_never_judged_and_only_they_are_retried(tmp_path: Path) -> None:
    items = _items(["SCORE1", *BAD, "SCORE5"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    with LoopbackServer(scripted()) as server:
        api = _api(server)
        result = _generate(folder, items, api)
        assert result.done == 7
        assert result.failed == {"content_filter": 1, "provider_error": 3, "provider_refused": 1}
        rows = folder.current_generations(settings_hash(SETTINGS), items)
        got = {k: (r.outcome, (r.error or "").split(":")[0]) for k, r in rows.items() if r.outcome}
        assert got == {
            "it-1": ("provider_refused", "HTTP 400"),
            "it-2": ("content_filter", ""),
            "it-3": ("provider_error", "IndexError"),
            "it-4": ("provider_error", "JSONDecodeError"),
            "it-5": ("provider_error", "JSONDecodeError"),
        }
        assert all(rows[k].answer == "" for k in got)
        rubric = RubricJudge("rubric:j", "j", "openai", make_principles(), api)
        [judged] = judge_stage(folder, [rubric])
        assert (judged.total, judged.done, len(judged.unanswered)) == (2, 2, 5)  # filtered answers never judged
        summary = write_report(folder, resamples=100)
        n = len(server.requests)
        assert _generate(folder, items, api).done == 5  # a rerun asks again for the five only
        asked = [r["messages"][-1]["content"] for r in server.requests[n:]]
        assert sorted({a.split()[1] for a in asked}) == sorted(BAD)
    overall = next(s for s in summary.overall if s.judge == "rubric:j")
    assert overall.no_answer == {"content_filter": 1, "provider_error": 3, "provider_refused": 1}
    assert (overall.mean_if_failures_1, overall.mean_if_failures_5) == ((1 + 5 + 5) / 7, (1 + 5 + 25) / 7)  # type: ignore[attr-defined]
    p1 = next(s for s in summary.by_principle if s.group == Principle(1).slug)
    assert p1.no_answer == {"content_filter": 1, "provider_error": 1}
    assert "| 4 (no answer: content_filter 1, provider_error 1) |" in (folder.path / "report.md").read_text()


def test_judge_side_failures_are_counted_and_retried(tmp_path: Path) -> None:
    items = _items(["SCORE2", "EMPTYCHOICES", "NONJSON"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    judge_behaviour = scripted()

    def behave(req: dict[str, Any], seen: int) -> tuple[int, Any, float]:
        text = req["messages"][-1]["content"]
        if "USAGE POLICY" not in json.dumps(req["messages"]):
            return 200, _chat_body(f"answer to: {text}"), 0.0
        return judge_behaviour(req, seen)

    with LoopbackServer(behave) as server:
        api = _api(server)
        _generate(folder, items, api)
        rubric = RubricJudge("rubric:j", "j", "openai", make_principles(), api)
        [first] = judge_stage(folder, [rubric])
        assert first.failed == {"provider_error": 2}
        summary = write_report(folder, resamples=100)
        [again] = judge_stage(folder, [rubric])
        assert (again.reused, again.done) == (1, 2)
    overall = summary.overall[0]
    assert (overall.n_scored, overall.n_provider_errors, overall.n_unparsable) == (1, 2, 0)  # type: ignore[attr-defined]


def test_a_key_of_any_shape_echoed_by_the_server_is_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "Zq9!odd~key/with spaces&%"
    monkeypatch.setenv("MSB_ODD_KEY", key)
    items = _items(["GENPOLICY", "ECHOKEY", "SCORE3"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    with LoopbackServer(scripted()) as server:
        api = _api(server, "MSB_ODD_KEY")
        _generate(folder, items, api)
        judge_stage(folder, [RubricJudge("rubric:j", "j", "openai", make_principles(), api)])
        write_report(folder, resamples=100)
    texts = {p.name: p.read_bytes().decode() for p in folder.path.iterdir() if p.is_file() and p.suffix != ".png"}
    assert any("[redacted key]" in t for t in texts.values())
    assert all(key not in t and json.dumps(key)[1:-1] not in t for t in texts.values())
    register_secret_env("MSB_ODD_KEY")
    assert redact(f"error: {key}!") == "error: [redacted key]!"

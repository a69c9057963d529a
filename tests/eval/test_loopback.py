"""The openai backend and the rubric judge against a loopback OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.dataset.records import Principle, Source
from medsafetybench.eval.backend_openai import OpenAIGenerator
from medsafetybench.eval.judges import RefusalJudge, RubricJudge
from medsafetybench.eval.judges.rubric_prompt import CORRECTION_TURN
from medsafetybench.eval.openai_client import ApiOptions
from medsafetybench.eval.report import write_report
from medsafetybench.eval.rows import EvalItem, GenerationSettings, settings_hash
from medsafetybench.eval.run import RunFolder, generate_stage, judge_stage

from .helpers import LoopbackServer, make_principles, scripted

MARKERS = ["SCORE1", "SCORE5", "GARBAGE", "GARBAGE_ONCE", "JREFUSE", "RATE429", "ERR500", "TIMEOUT"]


def _replace(req: dict, old: str, new: str) -> dict:  # type: ignore[type-arg]
    return json.loads(json.dumps(req).replace(old, new))


def _items(markers: list[str]) -> list[EvalItem]:
    return [
        EvalItem(id=f"it-{k}", request=f"please {m} now", principle=Principle(k % 9 + 1), source=Source.GPT4)
        for k, m in enumerate(markers)
    ]


def _api(server: LoopbackServer, **kw: float) -> ApiOptions:
    opts = {"concurrency": 4, "max_retries": 3, "backoff_base": 0.01, "backoff_max": 0.05, "timeout": 0.5}
    opts.update(kw)
    return ApiOptions(base_url=server.base_url, api_key_env="MSB_TEST_NO_SUCH_KEY", **opts)  # type: ignore[arg-type]


def _settings(fmt: str = "chat", max_new_tokens: int = 16, base_url: str | None = None) -> GenerationSettings:
    return GenerationSettings(
        backend="openai",
        model="loopback-model",
        base_url=base_url,
        prompt_format=fmt,  # type: ignore[arg-type]
        template="chat" if fmt == "chat" else "paper-llama2",
        max_new_tokens=max_new_tokens,
        dtype="n/a",
    )


def _generate(
    folder: RunFolder,
    items: list[EvalItem],
    settings: GenerationSettings,
    api: ApiOptions,
    force: bool = False,
):  # type: ignore[no-untyped-def]
    return generate_stage(folder, items, settings, lambda: OpenAIGenerator(settings, api), force=force)


def test_generate_and_judge_scores_garbage_refusals_and_transient_errors(tmp_path: Path) -> None:
    items = _items(MARKERS)
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    with LoopbackServer(scripted(timeout_delay=1.0)) as server:
        api = _api(server)
        result = _generate(folder, items, _settings(), api)
        assert (result.done, result.reused) == (8, 0)
        answers = folder.current_generations()
        assert answers["it-0"].answer == "answer to: please SCORE1 now"
        assert answers["it-5"].answer == "answer to: please RATE429 now"  # 429 then retried
        assert answers["it-6"].answer == "answer to: please ERR500 now"  # 500 then retried
        assert answers["it-7"].answer == "answer to: please TIMEOUT now"  # timed out then retried
        assert answers["it-0"].n_new_tokens == 3 and answers["it-0"].finish_reason == "stop"
        rubric = RubricJudge("rubric:loopback-judge", "loopback-judge", "openai", make_principles(), api)
        judge_stage(folder, [rubric, RefusalJudge()])
        judge_requests = [r for r in server.requests if "USAGE POLICY" in r["messages"][0]["content"]]
        assert all(r["temperature"] == 0 for r in judge_requests)
    rows = {r.id: r for r in folder.judgments.read() if r.judge == "rubric:loopback-judge"}
    got = {k: (r.score, r.parse_failure, r.failure_kind, r.attempts) for k, r in rows.items()}
    assert got == {
        "it-0": (1, False, None, 1),
        "it-1": (5, False, None, 1),
        "it-2": (None, True, "unparsable", 2),
        "it-3": (4, False, None, 2),
        "it-4": (None, True, "judge_refused", 2),
        "it-5": (2, False, None, 1),
        "it-6": (2, False, None, 1),
        "it-7": (2, False, None, 1),
    }
    row = rows["it-0"]
    assert row.judge_model == "loopback-judge" and row.temperature == 0.0
    assert row.prompt_version == rubric.settings.prompt_version and row.time
    summary = write_report(folder, resamples=200)
    overall = next(s for s in summary.overall if s.judge == "rubric:loopback-judge")
    assert (overall.n_scored, overall.n_parse_failures) == (6, 2)
    assert overall.mean == pytest.approx((1 + 5 + 4 + 2 + 2 + 2) / 6)
    assert overall.parse_failure_rate == pytest.approx(2 / 8)
    for name in ("report.md", "summary.json", "harmfulness_by_principle.png"):
        assert (folder.path / name).stat().st_size > 0
    report = (folder.path / "report.md").read_text()
    assert "PROXY" in report and "rubric:loopback-judge: mean ± SEM" in report


def test_judging_resumes_without_repeating_requests(tmp_path: Path) -> None:
    items = _items(["SCORE3", "SCORE4"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    with LoopbackServer(scripted()) as server:
        api = _api(server)
        _generate(folder, items, _settings(), api)
        rubric = RubricJudge("rubric:j", "j", "openai", make_principles(), api)
        judge_stage(folder, [rubric])
        n = len(server.requests)
        (again,) = judge_stage(folder, [rubric])
        assert (again.done, again.reused, len(server.requests)) == (0, 2, n)
        (forced,) = judge_stage(folder, [rubric], force=True)
        assert forced.done == 2 and len(server.requests) == n + 2
    assert len(folder.judgments.read()) == 4
    assert {
        r.id: r.score
        for r in folder.current_judgments(settings_hash(rubric.settings), folder.current_generations()).values()
    } == {
        "it-0": 3,
        "it-1": 4,
    }


def test_give_up_is_the_items_outcome_and_a_rerun_retries_only_it(tmp_path: Path) -> None:
    items = _items(["SCORE1", "ALWAYS500", "SCORE2"])
    folder = RunFolder(tmp_path / "run")
    with LoopbackServer(scripted()) as server:
        api = _api(server, concurrency=1, max_retries=2)
        result = _generate(folder, items, _settings(), api)
        assert (result.done, result.failed) == (3, {"provider_error": 1})
        rows = folder.current_generations(settings_hash(_settings()), items)
        assert rows["it-1"].outcome == "provider_error" and rows["it-1"].answer == ""
        assert rows["it-1"].error is not None
        assert rows["it-1"].error.startswith("InternalServerError: item it-1: loopback-model: gave up after 3")
        n = len(server.requests)
        assert _generate(folder, items, _settings(), api).failed == {"provider_error": 1}  # still failing
        assert all("SCORE1" not in r["messages"][-1]["content"] for r in server.requests[n:])
        assert len(server.requests) - n == 3  # only it-1, three attempts
        behave = scripted()
        server.behaviour = lambda req, seen: behave(_replace(req, "ALWAYS500", "SCORE3"), seen)
        result = _generate(folder, items, _settings(), api)
        assert (result.done, result.reused, result.failed) == (1, 2, {})
    rows = folder.current_generations(settings_hash(_settings()), items)
    assert sorted(rows) == ["it-0", "it-1", "it-2"] and all(r.outcome is None for r in rows.values())


def test_changed_settings_never_reuse_stale_rows(tmp_path: Path) -> None:
    items = _items(["SCORE1", "SCORE2"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    with LoopbackServer(scripted()) as server:
        api = _api(server)
        assert _generate(folder, items, _settings(max_new_tokens=16), api).done == 2
        assert _generate(folder, items, _settings(max_new_tokens=16), api).done == 0
        changed = _settings(max_new_tokens=32)
        assert _generate(folder, items, changed, api).done == 2
        assert set(folder.current_generations()) == {"it-0", "it-1"}
        assert folder.manifest().generation == changed
        assert _generate(folder, items, changed, api, force=True).done == 2
        paper = _settings(fmt="paper")
        assert _generate(folder, items, paper, api).done == 2
        assert server.requests[-1]["prompt"].startswith("[INST] <<SYS>>\n")
        assert server.requests[-1]["prompt"].endswith("\n\nAnswer: ")
    current = folder.current_generations()
    assert current["it-0"].answer.startswith("completion of ")
    assert isinstance(current["it-0"].prompt, str)
    assert len(folder.generations.read()) == 8


def test_missing_key_without_base_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from medsafetybench.eval.openai_client import make_client

    monkeypatch.delenv("MSB_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(MedSafetyError, match=r"set \$MSB_TEST_NO_SUCH_KEY"):
        make_client(ApiOptions(api_key_env="MSB_TEST_NO_SUCH_KEY"))


def _judge_rows(folder: RunFolder, spec: str) -> dict[str, tuple[int | None, str | None, int]]:
    return {r.id: (r.score, r.failure_kind, r.attempts) for r in folder.judgments.read() if r.judge == spec}


def test_retry_sends_the_conversation_with_a_correction_turn(tmp_path: Path) -> None:
    items = _items(["GARBAGE_ONCE", "GARBAGE"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    with LoopbackServer(scripted()) as server:
        api = _api(server)
        _generate(folder, items, _settings(), api)
        rubric = RubricJudge("rubric:j", "j", "openai", make_principles(), api)
        judge_stage(folder, [rubric])
        judge_calls = [r["messages"] for r in server.requests if "USAGE POLICY" in r["messages"][0]["content"]]
    assert _judge_rows(folder, "rubric:j") == {"it-0": (4, None, 2), "it-1": (None, "unparsable", 2)}
    assert sorted(len(m) for m in judge_calls) == [1, 1, 3, 3]
    (original,) = [m for m in judge_calls if len(m) == 1 and "GARBAGE_ONCE" in m[0]["content"]]
    (retry,) = [m for m in judge_calls if len(m) == 3 and "GARBAGE_ONCE" in m[0]["content"]]
    assert retry == [
        *original,
        {"role": "assistant", "content": "no idea"},
        {"role": "user", "content": CORRECTION_TURN},
    ]
    assert CORRECTION_TURN.endswith("#reason: <one or two sentences>\n#score: <a single integer from 1 to 5>")


def test_only_content_policy_rejections_count_as_judge_refusals(tmp_path: Path) -> None:
    items = _items(["POLICY400", "FILTERED", "SCORE3"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    with LoopbackServer(scripted()) as server:
        api = _api(server, concurrency=1)
        _generate(folder, items, _settings(), api)
        rubric = RubricJudge("rubric:j", "j", "openai", make_principles(), api)
        judge_stage(folder, [rubric])
    rows = _judge_rows(folder, "rubric:j")
    assert rows == {"it-0": (None, "judge_refused", 1), "it-1": (None, "judge_refused", 1), "it-2": (3, None, 1)}
    raw = {r.id: r.raw for r in folder.judgments.read()}
    assert "sk-abcdef123456" not in (raw["it-0"] or "") and "[redacted key]" in (raw["it-0"] or "")


def test_other_http_400_is_an_error_naming_the_item_and_writes_no_row(tmp_path: Path) -> None:
    items = _items(["SCORE1", "BADPARAM400"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    with LoopbackServer(scripted()) as server:
        api = _api(server, concurrency=1)
        _generate(folder, items, _settings(), api)
        rubric = RubricJudge("rubric:j", "j", "openai", make_principles(), api)
        with pytest.raises(MedSafetyError, match=r"^item it-1: judge j: HTTP 400: .*Unsupported parameter") as info:
            judge_stage(folder, [rubric])
    assert "\n" not in str(info.value)
    assert _judge_rows(folder, "rubric:j") == {"it-0": (1, None, 1)}


def test_retry_after_is_honoured_and_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medsafetybench.eval import openai_client

    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(openai_client, "_sleep", record)
    items = _items(["RETRYAFTER3", "RETRYAFTER100"])
    folder = RunFolder(tmp_path / "run")
    with LoopbackServer(scripted()) as server:
        api = _api(server, concurrency=1, backoff_max=10.0)
        assert _generate(folder, items, _settings(), api).done == 2
    assert waits == [3.0, 10.0]


def test_api_keys_are_scrubbed_from_errors() -> None:
    from medsafetybench.eval.openai_client import scrub_secrets

    text = "bad key sk-proj-AbC123xyz_456 and hf_AbCdEf0123456789 here"
    assert scrub_secrets(text) == "bad key [redacted key] and [redacted key] here"
    assert scrub_secrets("task-force risk-free") == "task-force risk-free"


def test_base_url_and_edited_request_text_invalidate_rows(tmp_path: Path) -> None:
    items = _items(["SCORE1", "SCORE2"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)
    with LoopbackServer(scripted()) as server:
        api = _api(server)
        assert _generate(folder, items, _settings(base_url="http://a/v1"), api).done == 2
        assert _generate(folder, items, _settings(base_url="http://a/v1"), api).done == 0
        assert _generate(folder, items, _settings(base_url="http://b/v1"), api).done == 2
        rubric = RubricJudge("rubric:j", "j", "openai", make_principles(), api)
        assert rubric.settings.base_url == server.base_url
        judge_stage(folder, [rubric])
        edited = [items[0].model_copy(update={"request": "please SCORE5 now, edited"}), items[1]]
        folder.write_items(edited, folder.manifest().selection or _selection())
        result = _generate(folder, edited, _settings(base_url="http://b/v1"), api)
        assert (result.done, result.reused) == (1, 1)
        (judged,) = judge_stage(folder, [rubric])
        assert (judged.done, judged.reused) == (1, 1)
    assert folder.current_generations()["it-0"].answer == "answer to: please SCORE5 now, edited"
    assert {k: v[0] for k, v in _judge_rows(folder, "rubric:j").items()} == {"it-0": 5, "it-1": 2}


def test_adapter_retrained_in_the_same_folder_is_regenerated(tmp_path: Path) -> None:
    from medsafetybench.eval.backends import generation_settings
    from medsafetybench.models import adapter_sha256

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 8}')
    (adapter / "adapter_model.safetensors").write_bytes(b"weights-v1")
    items = _items(["SCORE1", "SCORE2"])
    folder = RunFolder(tmp_path / "run")
    folder.items_file.append(items)

    def settings() -> GenerationSettings:
        return generation_settings("openai", "loopback-model", adapter=str(adapter), max_new_tokens=16)

    with LoopbackServer(scripted()) as server:
        api = _api(server)
        assert _generate(folder, items, settings(), api).done == 2
        (adapter / "README.md").write_text("notes")  # not part of the adapter: answers are reused
        assert _generate(folder, items, settings(), api).done == 0
        (adapter / "adapter_model.safetensors").write_bytes(b"weights-v2")  # retrained in place
        assert _generate(folder, items, settings(), api).done == 2
    assert settings().adapter_sha256 == adapter_sha256(str(adapter)) is not None
    assert adapter_sha256(str(tmp_path / "missing")) is None


def _selection():  # type: ignore[no-untyped-def]
    from medsafetybench.eval.rows import DataSelection

    return DataSelection(config="medical_test")

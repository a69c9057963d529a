"""The ``upstream`` judge sends exactly the prompt upstream's code builds (full data: ../shared/upstream).

The expected prompt is computed here, at test time, from upstream's files (its f-string node evaluated
over the names it uses); no upstream text is stored in this repository.
"""

from __future__ import annotations

import ast
import csv
import shutil
from pathlib import Path
from typing import Any

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.dataset.records import Principle, Source
from medsafetybench.eval.judges import JudgeContext, UpstreamJudge, make_judge
from medsafetybench.eval.judges.upstream_prompt import JUDGE_FILES, read_upstream_prompt
from medsafetybench.eval.openai_client import ApiOptions
from medsafetybench.eval.report import write_report
from medsafetybench.eval.rows import EvalItem, GenerationRecord, GenerationSettings, RunManifest, settings_hash
from medsafetybench.eval.run import RunFolder, judge_stage

from .helpers import LoopbackServer, _chat_body

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream"
pytestmark = pytest.mark.skipif(
    not all((UPSTREAM / p).is_file() for p in JUDGE_FILES), reason=f"no upstream judge files in {UPSTREAM}"
)


def _fstring_value(node: ast.expr, names: dict[str, str]) -> str:
    """Evaluate an f-string node made only of literals and plain names (what upstream's prompt is)."""
    assert isinstance(node, ast.JoinedStr | ast.Constant)
    for v in getattr(node, "values", []):
        assert isinstance(v, ast.Constant) or (isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name))
    return eval(compile(ast.Expression(node), "<upstream f-string>", "eval"), {"__builtins__": {}}, names)


def _expected_prompt(question: str, response: str) -> str:
    text = ast.parse((UPSTREAM / "exps/text_for_gpt_eval.py").read_text())
    defs = {t.id: n.value for n in text.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    table: Any = defs["usage_policy_dict"]
    policies = {k.value: v.id for k, v in zip(table.keys, table.values, strict=True)}
    usage_policy = _fstring_value(defs[policies["med_harm_gpt4"]], {})
    rubric = _fstring_value(defs["rubric"], {})
    code = ast.parse((UPSTREAM / "exps/exp02_eval_responses.py").read_text())
    node = next(
        n.value
        for n in ast.walk(code)
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "eval_prompt"
    )
    names = {"usage_policy": usage_policy, "question": question, "response": response, "rubric": rubric}
    return _fstring_value(node, names)


def _first_request() -> str:
    with (UPSTREAM / "datasets/test/gpt4/med_safety_demonstrations_category_1.csv").open(newline="") as fh:
        return next(csv.DictReader(fh))["harmful_medical_request"]


def _run(tmp_path: Path, requests: list[str], answers: list[str]) -> RunFolder:
    folder = RunFolder(tmp_path / "run")
    items = [
        EvalItem(id=f"it-{k}", request=r, principle=Principle(1), source=Source.GPT4) for k, r in enumerate(requests)
    ]
    folder.items_file.append(items)
    settings = GenerationSettings(
        backend="openai", model="m", prompt_format="chat", template="chat", max_new_tokens=8, dtype="n/a"
    )
    h = settings_hash(settings)
    folder.save_manifest(RunManifest(generation=settings, generation_hash=h))
    from medsafetybench.core.files import sha256_text

    folder.generations.append(
        [
            GenerationRecord(
                id=i.id,
                settings_hash=h,
                request_sha256=sha256_text(i.request),
                prompt=i.request,
                answer=a,
                model="m",
                backend="openai",
            )
            for i, a in zip(items, answers, strict=True)
        ]
    )
    return folder


def test_upstream_judge_sends_exactly_upstreams_prompt(tmp_path: Path) -> None:
    request = _first_request()
    answers = ["  I cannot help with that; please talk to your doctor.\n", "Sure, here is how."]
    folder = _run(tmp_path, [request, "a synthetic request"], answers)

    def behave(req: dict[str, Any], seen: int) -> tuple[int, dict[str, Any], float]:
        return 200, _chat_body("#reason: fine\n#score: 2" if "cannot" in str(req) else "no score here"), 0.0

    with LoopbackServer(behave) as server:
        api = ApiOptions(base_url=server.base_url, api_key_env="MSB_TEST_NO_SUCH_KEY", max_retries=0)
        judge = make_judge("upstream", JudgeContext(api=api, upstream=str(UPSTREAM)))
        assert isinstance(judge, UpstreamJudge)
        judge_stage(folder, [judge])
        first = sorted((r for r in server.requests if len(r["messages"]) == 2), key=lambda r: "cannot" not in str(r))
    assert [r["model"] for r in first] == ["gpt-3.5-turbo-0125"] * 2
    assert all(r["temperature"] == 0 and r["max_tokens"] == 512 for r in first)
    for r, question, answer in zip(first, [request, "a synthetic request"], answers, strict=True):
        system, user = r["messages"]
        assert system == {"role": "system", "content": "You are a helpful assistant."}
        assert user["role"] == "user"
        assert user["content"].encode() == _expected_prompt(question, answer.strip()).encode()
    rows = {r.id: r for r in folder.judgments.read()}
    assert (rows["it-0"].score, rows["it-1"].failure_kind, rows["it-1"].attempts) == (2, "unparsable", 2)
    assert rows["it-0"].prompt_version.startswith("upstream-exp02+")
    summary = write_report(folder, resamples=100)
    overall = summary.overall[0]
    assert (overall.kind, overall.n_scored, overall.n_parse_failures) == ("upstream", 1, 1)  # type: ignore[attr-defined]


def test_upstream_files_are_hash_checked(tmp_path: Path) -> None:
    for rel in JUDGE_FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(UPSTREAM / rel, tmp_path / rel)
    assert read_upstream_prompt(tmp_path).model == "gpt-3.5-turbo-0125"
    with (tmp_path / "exps/text_for_gpt_eval.py").open("ab") as fh:
        fh.write(b"\n")
    with pytest.raises(MedSafetyError, match=r"text_for_gpt_eval.py: sha256 .* is not the pinned"):
        read_upstream_prompt(tmp_path)
    with pytest.raises(MedSafetyError, match=r"^--upstream .*: the folder does not exist$"):
        make_judge("upstream:x", JudgeContext(upstream=str(tmp_path / "nope")))

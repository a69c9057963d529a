"""hf backend on a tiny random Llama; kill-and-resume of generation and judging."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medsafetybench.eval.backend_hf import HFGenerator
from medsafetybench.eval.generation import Completion, PromptJob
from medsafetybench.eval.report import build_summary
from medsafetybench.eval.run import RunFolder
from medsafetybench.models import resolve_model

from . import resume_worker
from .helpers import LoopbackServer, hashed

pytestmark = pytest.mark.slow

WORKER = Path(resume_worker.__file__)


def _run_all(gen: HFGenerator, jobs: list[PromptJob]) -> dict[str, Completion]:
    out: dict[str, Completion] = {}
    gen.generate(jobs, lambda c: out.__setitem__(c.id, c))
    return out


def test_hf_backend_batched_left_padded_new_tokens_only(tiny_llama: Path) -> None:
    settings = resume_worker.settings(str(tiny_llama))
    gen = HFGenerator(settings, resolve_model(str(tiny_llama)), batch_size=3)
    assert gen.tokenizer.padding_side == "left"
    requests = [
        "short one",
        "a much longer request about consent and records " * 3,
        "mid length request",
        "x",
    ]
    jobs = [PromptJob(str(i), gen.render(r)) for i, r in enumerate(requests)]
    assert jobs[0].prompt.startswith("[INST] <<SYS>>\n") and jobs[0].prompt.endswith("Question: short one\n\nAnswer: ")
    batched = _run_all(gen, jobs)
    gen.batch_size = 1
    single = _run_all(gen, jobs)
    assert {k: c.text for k, c in batched.items()} == {k: c.text for k, c in single.items()}
    for i, c in batched.items():
        assert 1 <= c.n_new_tokens <= 8  # type: ignore[operator]
        assert c.finish_reason in ("stop", "length")
        assert c.n_prompt_tokens == len(gen.tokenizer(jobs[int(i)].prompt)["input_ids"])
        assert "Question:" not in c.text  # only the continuation is decoded
    chat = HFGenerator(
        settings.model_copy(update={"prompt_format": "chat", "template": "chat"}),
        resolve_model(str(tiny_llama)),
        batch_size=2,
        model=gen.model,
        tokenizer=gen.tokenizer,
    )
    assert chat.render("hello") == "<|user|>hello</s><|assistant|>"
    ignore = HFGenerator(
        settings.model_copy(update={"ignore_eos": True}),
        resolve_model(str(tiny_llama)),
        batch_size=4,
        model=gen.model,
        tokenizer=gen.tokenizer,
    )
    assert {c.n_new_tokens for c in _run_all(ignore, jobs).values()} == {8}


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _kill_when(proc: subprocess.Popen[bytes], path: Path, lines: int, deadline: float = 120.0) -> None:
    start = time.monotonic()
    while _lines(path) < lines:
        if proc.poll() is not None:
            raise AssertionError(f"worker ended before the kill (rc {proc.returncode}): {proc.stderr.read()!r}")  # type: ignore[union-attr]
        if time.monotonic() - start > deadline:
            proc.kill()
            raise AssertionError("worker too slow")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _worker(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(WORKER), *args], stderr=subprocess.PIPE)


def _numbers(folder: RunFolder) -> str:
    summary = build_summary(folder, resamples=300)
    return summary.model_dump_json(include={"overall", "by_principle", "by_source", "n_items", "n_generated"})


def test_killed_generation_and_judging_resume_to_the_same_numbers(tiny_llama: Path, tmp_path: Path) -> None:
    model = str(tiny_llama)
    with LoopbackServer(hashed(latency=0.05)) as server:
        reference = RunFolder(tmp_path / "reference")
        resume_worker.run_generate(reference, model, 0.0)
        resume_worker.run_judge(reference, server.base_url)

        run = RunFolder(tmp_path / "killed")
        proc = _worker("generate", str(run.path), model, "0.3")
        _kill_when(proc, run.generations.path, 3)
        assert 3 <= _lines(run.generations.path) < 18
        resume_worker.run_generate(run, model, 0.0)
        assert _lines(run.generations.path) == 18  # nothing lost, nothing generated twice

        proc = _worker("judge", str(run.path), server.base_url)
        _kill_when(proc, run.judgments.path, 18 + 4)  # the refusal judge's 18 rows, then some rubric rows
        assert _lines(run.judgments.path) < 36
        resume_worker.run_judge(run, server.base_url)
        assert _lines(run.judgments.path) == 36

    ref_answers = {r.id: r.answer for r in reference.generations.read()}
    assert {r.id: r.answer for r in run.generations.read()} == ref_answers
    assert _numbers(run) == _numbers(reference)
    summary = build_summary(run, resamples=300)
    rubric = next(s for s in summary.overall if s.judge == "rubric:loopback")
    assert rubric.n_judged == 18 and rubric.n_scored + rubric.n_parse_failures == 18  # type: ignore[operator]


def test_partial_last_line_is_dropped_and_malformed_line_is_named(tmp_path: Path) -> None:
    from medsafetybench.core.errors import MedSafetyError
    from medsafetybench.dataset.records import Principle, Source
    from medsafetybench.eval.jsonl import JsonlFile
    from medsafetybench.eval.rows import EvalItem

    f = JsonlFile(tmp_path / "x.jsonl", EvalItem)
    item = EvalItem(id="a", request="r", principle=Principle(1), source=Source.GPT4)
    f.append([item])
    with f.path.open("a") as fh:
        fh.write('{"id": "b", "requ')  # a write cut off by a kill
    assert [i.id for i in f.read()] == ["a"]
    f.append([item.model_copy(update={"id": "c"})])
    assert [i.id for i in f.read()] == ["a", "c"]
    with f.path.open("a") as fh:
        fh.write('{"id": "d"}\n')
    with pytest.raises(MedSafetyError, match=r"x\.jsonl:3: not a valid EvalItem"):
        f.read()

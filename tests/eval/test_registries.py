"""The backend registry (names, lazy imports, validation) and a rubric judge over any registered backend."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest
from pydantic import ValidationError

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.core.files import sha256_text
from medsafetybench.core.registry import Registry
from medsafetybench.eval.backends import (
    BACKENDS,
    BackendOptions,
    generation_settings,
    make_generator,
    register_backend,
)
from medsafetybench.eval.generation import Completion, Generator, OnCompletion, PromptJob
from medsafetybench.eval.judges import JudgeContext, JudgeInput, RubricJudge, make_judge
from medsafetybench.eval.judges.rubric_prompt import CORRECTION_TURN
from medsafetybench.eval.prompts import paper_prompt, render_prompt
from medsafetybench.eval.rows import GenerationSettings, JudgmentRecord

from .helpers import make_principles


def test_builtin_names_and_errors_come_from_the_registries() -> None:
    code = (
        "from medsafetybench.eval.backends import BACKENDS; from medsafetybench.eval.judges import JUDGES; "
        "print(','.join(BACKENDS.names())); print(','.join(JUDGES.names()))"
    )
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert fresh == ["hf,vllm,openai", "rubric,upstream,refusal,overrefusal"]  # what importing the package registers
    # in this process, plugins imported by other tests (medsafetybench.inspect's grader backend) may add more
    assert BACKENDS.names()[:3] == ("hf", "vllm", "openai")
    listed = re.escape(", ".join(BACKENDS.names()))
    with pytest.raises(MedSafetyError, match=rf"^unknown backend 'tgi': use one of {listed}$"):
        generation_settings("tgi", "m")
    with pytest.raises(ValidationError, match=rf"unknown backend 'tgi': use one of {listed}"):
        GenerationSettings(
            backend="tgi", model="m", prompt_format="chat", template="chat", max_new_tokens=4, dtype="auto"
        )
    with pytest.raises(
        MedSafetyError,
        match=r"^unknown judge 'bogus': use rubric:<api model>, rubric:<backend>:<model>, upstream\[:<api model>\], "
        r"refusal, overrefusal:<api model>, overrefusal:<backend>:<model>$",
    ):
        make_judge("bogus")
    with pytest.raises(ValueError, match="already registered"):
        BACKENDS.add("hf", BACKENDS.get("hf"))
    registry: Registry[int] = Registry("thing")
    with pytest.raises(ValueError, match="without ':'"):
        registry.add("a:b", 1)


def test_backend_modules_are_imported_only_when_used() -> None:
    code = (
        "import sys, medsafetybench.cli, medsafetybench.eval;"
        "print(sorted(m for m in sys.modules"
        " if m.startswith('medsafetybench.eval.backend_') or m in ('openai', 'vllm')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_settings_take_the_backends_traits() -> None:
    api = generation_settings("openai", "gpt-x", dtype="float16", base_url="http://h/v1", adapter="no/such/dir")
    assert (api.model, api.dtype, api.base_url, api.template) == ("gpt-x", "n/a", "http://h/v1", "chat")
    assert (api.adapter, api.adapter_sha256) == ("no/such/dir", None)
    local = generation_settings("vllm", "org/medalpaca-7b", prompt_format="paper", base_url="http://h/v1")
    assert (local.model, local.dtype, local.base_url, local.template) == (
        "org/medalpaca-7b",
        "auto",
        None,
        "paper-medalpaca",
    )
    with pytest.raises(MedSafetyError, match=r"^--template 'x': use paper-llama2 or paper-medalpaca$"):
        generation_settings("vllm", "m", prompt_format="paper", template="x")
    assert render_prompt("Q?", local) == paper_prompt("Q?", "paper-medalpaca")
    assert render_prompt("Q?", api) == [{"role": "user", "content": "Q?"}]


class Scripted:
    """A generator that answers judge prompts from a script: first outputs by item, then the retries."""

    def __init__(self, settings: GenerationSettings, first: dict[str, str], retry: str) -> None:
        self.settings, self.first, self.retry = settings, first, retry
        self.jobs: list[list[PromptJob]] = []
        self.closed = False

    def render(self, request: str) -> str | list[dict[str, str]]:
        return render_prompt(request, self.settings)

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None:
        self.jobs.append(list(jobs))
        for job in jobs:
            assert isinstance(job.prompt, list)
            if job.id == "rejected":
                on_done(Completion(job.id, "", rejection="HTTP 400: filtered"))
            else:
                on_done(Completion(job.id, self.retry if len(job.prompt) == 3 else self.first[job.id]))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def scripted_backend() -> Iterator[list[Scripted]]:
    made: list[Scripted] = []

    @register_backend("scripted", help="test", local_weights=False)
    def _scripted(settings: GenerationSettings, options: BackendOptions) -> Generator:
        first = {"ok": "#reason: fine\n#score: 2", "garbage": "no idea", "refuses": "I'm sorry, I can't."}
        made.append(Scripted(settings, first, "#reason: retried\n#score: 4"))
        return made[-1]

    yield made
    BACKENDS.remove("scripted")


def test_a_rubric_judge_uses_any_registered_backend(scripted_backend: list[Scripted]) -> None:
    context = JudgeContext(load_principles=make_principles)
    judge = make_judge("rubric:scripted:judge-model", context)
    assert isinstance(judge, RubricJudge)
    s = judge.settings
    assert (s.kind, s.model, s.backend, s.base_url, s.max_tokens) == ("rubric", "judge-model", "scripted", None, 512)
    assert make_generator(generation_settings("scripted", "m")).settings.backend == "scripted"
    scripted_backend.clear()
    inputs = [JudgeInput(i, f"req {i}", f"answer {i}", sha256_text(i), "g", "r") for i in ("ok", "garbage", "rejected")]
    rows: list[JudgmentRecord] = []
    judge.judge(inputs, rows.append)
    (gen,) = scripted_backend
    assert gen.closed and gen.settings.model == "judge-model" and gen.settings.max_new_tokens == 512
    assert [[j.id for j in batch] for batch in gen.jobs] == [["ok", "garbage", "rejected"], ["garbage"]]
    assert gen.jobs[1][0].prompt[1:] == [
        {"role": "assistant", "content": "no idea"},
        {"role": "user", "content": CORRECTION_TURN},
    ]
    got = {r.id: (r.score, r.failure_kind, r.attempts, r.raw) for r in rows}
    assert got == {
        "ok": (2, None, 1, "#reason: fine\n#score: 2"),
        "garbage": (4, None, 2, "#reason: retried\n#score: 4"),
        "rejected": (None, "judge_refused", 1, "[rejected by the endpoint's content policy: HTTP 400: filtered]"),
    }
    with pytest.raises(MedSafetyError, match=r"judge 'rubric:scripted:': name the judge model"):
        make_judge("rubric:scripted:", context)
    assert make_judge("rubric:ft:gpt-4o:org::x", context).settings.model == "ft:gpt-4o:org::x"  # not a backend
    with pytest.raises(MedSafetyError, match=r"judge rubric:m: the principles config is needed"):
        make_judge("rubric:m")

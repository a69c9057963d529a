"""Subprocess used by the kill-and-resume test: one stage on the synthetic items, slowed down."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from helpers import make_principles, make_requests

from medsafetybench.eval.backend_hf import HFGenerator
from medsafetybench.eval.generation import OnCompletion, PromptJob
from medsafetybench.eval.judges import RefusalJudge, RubricJudge
from medsafetybench.eval.openai_client import ApiOptions
from medsafetybench.eval.rows import GenerationSettings
from medsafetybench.eval.run import RunFolder, generate_stage, judge_stage, select_items
from medsafetybench.models import resolve_model


def settings(model: str) -> GenerationSettings:
    return GenerationSettings(
        backend="hf",
        model=model,
        prompt_format="paper",
        template="paper-llama2",
        max_new_tokens=8,
        dtype="float32",
    )


class Slow:
    """Wraps a generator: sleeps after each saved answer so a kill lands mid-stage."""

    def __init__(self, inner: HFGenerator, delay: float) -> None:
        self.inner, self.delay, self.settings = inner, delay, inner.settings

    def render(self, request: str) -> str:
        return self.inner.render(request)

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None:
        def slow(c):  # type: ignore[no-untyped-def]
            on_done(c)
            time.sleep(self.delay)

        self.inner.generate(jobs, slow)

    def close(self) -> None:
        self.inner.close()


def run_generate(folder: RunFolder, model: str, delay: float) -> None:
    items = select_items(make_requests(2))
    s = settings(model)
    folder.items_file.append(items) if not folder.items_file.path.exists() else None
    generate_stage(
        folder,
        items,
        s,
        lambda: Slow(HFGenerator(s, resolve_model(model), batch_size=1), delay),
    )


def run_judge(folder: RunFolder, base_url: str) -> None:
    # retries with some slack: on a loaded machine a transient loopback error must not become an outcome
    api = ApiOptions(base_url=base_url, api_key_env="MSB_TEST_NO_SUCH_KEY", concurrency=2, backoff_base=0.2)
    rubric = RubricJudge("rubric:loopback", "loopback", "openai", make_principles(), api)
    judge_stage(folder, [RefusalJudge(), rubric])


if __name__ == "__main__":
    stage, run, arg = sys.argv[1], RunFolder(sys.argv[2]), sys.argv[3]
    if stage == "generate":
        run_generate(run, arg, float(sys.argv[4]))
    else:
        run_judge(run, arg)

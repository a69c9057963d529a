"""The ``inspect`` generation backend: a judge's prompts go to an inspect model role (the grader).

A model-graded judge spec ``<judge>:inspect:<role>`` makes the judge build this backend's generator
(through :func:`~medsafetybench.eval.backends.make_generator`, like any transport), so its own
prompt, retry turn and parser run unchanged. The scorer runs ``judge.judge`` in a worker thread
(:func:`run_judge`) with the role's models in a context variable; the generator sends each prompt
back to the event loop (``anyio.from_thread``).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from functools import partial

import anyio.from_thread
import anyio.to_thread
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    Model,
)

from ..core.errors import MedSafetyError
from ..eval.backends import BACKENDS, BackendOptions, register_backend
from ..eval.generation import Completion, Generator, OnCompletion, PromptJob
from ..eval.judges import Judge, JudgeInput
from ..eval.prompts import render_prompt
from ..eval.rows import GenerationSettings, JudgmentRecord

__all__ = ["BACKEND", "InspectRoleGenerator", "run_judge"]

BACKEND = "inspect"

_ROLE_MODELS: ContextVar[dict[str, Model] | None] = ContextVar("medsafetybench_inspect_role_models", default=None)

_MESSAGE_TYPES = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}


class InspectRoleGenerator:
    """Greedy answers of the model bound to the role ``settings.model`` (call only from :func:`run_judge`)."""

    def __init__(self, settings: GenerationSettings) -> None:
        self.settings = settings
        model = (_ROLE_MODELS.get() or {}).get(settings.model)
        if model is None:
            raise MedSafetyError(f"backend {BACKEND}: model role {settings.model!r} is not bound in this scorer")
        self.model = model
        self.config = GenerateConfig(temperature=0.0, max_tokens=settings.max_new_tokens)

    def render(self, request: str) -> str | list[dict[str, str]]:
        return render_prompt(request, self.settings)

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None:
        for job in jobs:
            prompt = [{"role": "user", "content": job.prompt}] if isinstance(job.prompt, str) else job.prompt
            messages: list[ChatMessage] = [_MESSAGE_TYPES[m["role"]](content=m["content"]) for m in prompt]
            output = anyio.from_thread.run(partial(self.model.generate, messages, config=self.config))
            usage = output.usage
            on_done(
                Completion(
                    id=job.id,
                    text=output.completion,
                    n_prompt_tokens=usage.input_tokens if usage else None,
                    n_new_tokens=usage.output_tokens if usage else None,
                    finish_reason=output.stop_reason,
                    rejection="content_filter" if output.stop_reason == "content_filter" else None,
                )
            )

    def close(self) -> None:
        pass


if BACKEND not in BACKENDS:

    @register_backend(
        BACKEND, help="an inspect_ai model role (judges inside inspect scorers only)", local_weights=False
    )
    def _inspect(settings: GenerationSettings, options: BackendOptions) -> Generator:
        return InspectRoleGenerator(settings)


async def run_judge(judge: Judge, item: JudgeInput, roles: dict[str, Model]) -> JudgmentRecord:
    """The judgment of one answer by ``judge`` (its model-graded prompts answered by the ``roles`` models)."""
    rows: list[JudgmentRecord] = []
    token = _ROLE_MODELS.set(roles)
    try:
        await anyio.to_thread.run_sync(judge.judge, [item], rows.append)
    finally:
        _ROLE_MODELS.reset(token)
    if len(rows) != 1:
        raise MedSafetyError(f"item {item.id}: judge {judge.settings.spec} returned {len(rows)} judgments, not 1")
    return rows[0]

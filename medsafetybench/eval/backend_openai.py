"""The ``openai`` backend: any OpenAI-compatible endpoint (chat or completions API)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from ..core.errors import MedSafetyError
from .generation import Completion, OnCompletion, PromptJob
from .openai_client import (
    ApiOptions,
    describe_error,
    is_content_policy_rejection,
    make_client,
    run_bounded,
    with_retries,
)
from .prompts import render_prompt
from .rows import GenerationSettings

__all__ = ["OpenAIGenerator"]


class OpenAIGenerator:
    """Greedy (temperature 0) answers; ``chat`` uses chat completions, ``paper`` the completions API.

    Errors name ``item <id>: <label>`` (label: the model by default). With ``keep_rejections``, a
    prompt the endpoint's content policy rejects (HTTP 400 ``content_filter``...) gives a
    :class:`Completion` with ``rejection`` set instead of an error; any other HTTP 400 is an error.
    A ``finish_reason: content_filter`` always sets ``rejection``.
    """

    def __init__(
        self, settings: GenerationSettings, options: ApiOptions, label: str | None = None, keep_rejections: bool = False
    ) -> None:
        self.settings, self.options = settings, options
        self.label = label or settings.model
        self.keep_rejections = keep_rejections

    def render(self, request: str) -> str | list[dict[str, str]]:
        return render_prompt(request, self.settings)

    async def _create(self, client: Any, job: PromptJob, what: str) -> Any:
        s = self.settings

        def call() -> Awaitable[Any]:
            if isinstance(job.prompt, str):
                return client.completions.create(
                    model=s.model, prompt=job.prompt, max_tokens=s.max_new_tokens, temperature=0
                )
            return client.chat.completions.create(
                model=s.model, messages=job.prompt, max_tokens=s.max_new_tokens, temperature=0
            )

        if not self.keep_rejections:
            return await with_retries(call, self.options, what)
        import openai

        try:
            return await with_retries(call, self.options, what, reraise=(openai.BadRequestError,))
        except openai.BadRequestError as exc:
            if not is_content_policy_rejection(exc):  # unsupported parameter, context length...: a real error
                raise MedSafetyError(f"{what}: {describe_error(exc)}") from None
            return describe_error(exc)

    async def _one(self, client: Any, job: PromptJob) -> Completion:
        resp = await self._create(client, job, f"item {job.id}: {self.label}")
        if isinstance(resp, str):  # rejected by the content policy
            return Completion(job.id, "", finish_reason="content_filter", rejection=resp)
        choice = resp.choices[0]
        text = choice.text if isinstance(job.prompt, str) else choice.message.content or ""
        usage = getattr(resp, "usage", None)
        return Completion(
            job.id,
            text,
            getattr(usage, "prompt_tokens", None),
            getattr(usage, "completion_tokens", None),
            choice.finish_reason,
            "finish_reason content_filter" if choice.finish_reason == "content_filter" else None,
        )

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None:
        if not jobs:
            return
        client = make_client(self.options)
        run_bounded(jobs, lambda job: self._one(client, job), on_done, self.options.concurrency)

    def close(self) -> None:
        pass

"""The ``openai`` backend: any OpenAI-compatible endpoint (chat or completions API)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from ..core.errors import MedSafetyError
from .generation import Completion, OnCompletion, PromptJob
from .openai_client import (
    ApiOptions,
    ItemFailure,
    describe_error,
    is_content_policy_rejection,
    make_client,
    run_bounded,
    scrub_secrets,
    with_retries,
)
from .prompts import render_prompt
from .rows import GenerationSettings

__all__ = ["OpenAIGenerator"]


class OpenAIGenerator:
    """Greedy (temperature 0) answers; ``chat`` uses chat completions, ``paper`` the completions API.

    One bad item never stops the stage: a prompt the endpoint's content policy rejects (HTTP 400
    ``content_filter``...) gives a :class:`Completion` with outcome ``provider_refused``; an empty
    output with ``finish_reason: content_filter`` outcome ``content_filter``; retries exhausted, an
    empty ``choices`` list or an unreadable body outcome ``provider_error`` (with the error class).
    Errors that would hit every item (another HTTP 400, 401, 404) raise, naming ``item <id>: <label>``.
    """

    def __init__(
        self, settings: GenerationSettings, options: ApiOptions, label: str | None = None, keep_rejections: bool = True
    ) -> None:
        self.settings, self.options = settings, options
        self.label = label or settings.model

    def render(self, request: str) -> str | list[dict[str, str]]:
        return render_prompt(request, self.settings)

    async def _create(self, client: Any, job: PromptJob, what: str) -> Any:
        import openai

        s = self.settings

        def call() -> Awaitable[Any]:
            if isinstance(job.prompt, str):
                return client.completions.create(
                    model=s.model, prompt=job.prompt, max_tokens=s.max_new_tokens, temperature=0
                )
            return client.chat.completions.create(
                model=s.model, messages=job.prompt, max_tokens=s.max_new_tokens, temperature=0
            )

        try:
            return await with_retries(call, self.options, what, reraise=(openai.BadRequestError,))
        except openai.BadRequestError as exc:
            if not is_content_policy_rejection(exc):  # unsupported parameter, context length...: a real error
                raise MedSafetyError(f"{what}: {describe_error(exc)}") from None
            return describe_error(exc)

    async def _one(self, client: Any, job: PromptJob) -> Completion:
        what = f"item {job.id}: {self.label}"
        try:
            resp = await self._create(client, job, what)
        except ItemFailure as exc:
            return Completion(
                job.id, "", outcome="provider_error", error=f"{exc.error_class}: {scrub_secrets(str(exc))}"
            )
        if isinstance(resp, str):  # rejected by the content policy
            return Completion(
                job.id, "", finish_reason="content_filter", rejection=resp, outcome="provider_refused", error=resp
            )
        try:
            choice = resp.choices[0]
            text = choice.text if isinstance(job.prompt, str) else choice.message.content
            finish = choice.finish_reason
        except Exception as exc:  # empty choices, a body without them, a non-JSON reply parsed as text
            error = f"{type(exc).__name__}: unreadable reply ({scrub_secrets(str(exc))[:120]})"
            return Completion(job.id, "", outcome="provider_error", error=error)
        usage = getattr(resp, "usage", None)
        filtered = finish == "content_filter"
        return Completion(
            job.id,
            text or "",
            getattr(usage, "prompt_tokens", None),
            getattr(usage, "completion_tokens", None),
            finish,
            "finish_reason content_filter" if filtered else None,
            outcome="content_filter" if filtered and not text else None,
        )

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None:
        if not jobs:
            return
        client = make_client(self.options)
        run_bounded(jobs, lambda job: self._one(client, job), on_done, self.options.concurrency)

    def close(self) -> None:
        pass

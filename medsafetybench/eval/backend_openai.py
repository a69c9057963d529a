"""The ``openai`` backend: any OpenAI-compatible endpoint (chat or completions API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .generation import Completion, OnCompletion, PromptJob
from .openai_client import ApiOptions, make_client, run_bounded, with_retries
from .prompts import chat_messages, paper_prompt
from .schema import GenerationSettings

__all__ = ["OpenAIGenerator"]


class OpenAIGenerator:
    """Greedy (temperature 0) answers; ``chat`` uses chat completions, ``paper`` the completions API."""

    def __init__(self, settings: GenerationSettings, options: ApiOptions) -> None:
        self.settings, self.options = settings, options

    def render(self, request: str) -> str | list[dict[str, str]]:
        s = self.settings
        if s.prompt_format == "paper":
            return paper_prompt(request, s.template, s.system_prompt)
        return chat_messages(request, s.system_prompt)

    async def _one(self, client: Any, job: PromptJob) -> Completion:
        s = self.settings
        what = f"item {job.id}: {s.model}"
        if isinstance(job.prompt, str):
            resp = await with_retries(
                lambda: client.completions.create(
                    model=s.model, prompt=job.prompt, max_tokens=s.max_new_tokens, temperature=0
                ),
                self.options,
                what,
            )
            choice = resp.choices[0]
            text = choice.text
        else:
            resp = await with_retries(
                lambda: client.chat.completions.create(
                    model=s.model, messages=job.prompt, max_tokens=s.max_new_tokens, temperature=0
                ),
                self.options,
                what,
            )
            choice = resp.choices[0]
            text = choice.message.content or ""
        usage = getattr(resp, "usage", None)
        return Completion(
            job.id,
            text,
            getattr(usage, "prompt_tokens", None),
            getattr(usage, "completion_tokens", None),
            choice.finish_reason,
        )

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None:
        client = make_client(self.options)
        run_bounded(jobs, lambda job: self._one(client, job), on_done, self.options.concurrency)

    def close(self) -> None:
        pass

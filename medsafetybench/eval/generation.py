"""The generation interface shared by the hf, vllm and openai backends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from .rows import GenerationSettings

__all__ = ["OUTCOMES", "Completion", "Generator", "OnCompletion", "Outcome", "PromptJob"]

Outcome = Literal["provider_refused", "content_filter", "provider_error"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)


@dataclass(frozen=True)
class PromptJob:
    """A rendered prompt: text (completion-style) or chat messages."""

    id: str
    prompt: str | list[dict[str, str]]


@dataclass(frozen=True)
class Completion:
    """A backend's answer to one job (only the continuation, never the prompt)."""

    id: str
    text: str
    n_prompt_tokens: int | None = None
    n_new_tokens: int | None = None
    finish_reason: str | None = None
    rejection: str | None = None
    """Why the endpoint's content policy rejected the prompt (``text`` is then no answer), else None."""
    outcome: Outcome | None = None
    """Set when ``text`` is no answer: the provider refused (HTTP 400 content policy), filtered the
    output to nothing (``finish_reason: content_filter``) or failed for good (``provider_error``)."""
    error: str | None = None
    """For ``provider_error``: ``<error class>: <one line>``."""


OnCompletion = Callable[[Completion], None]


class Generator(Protocol):
    """A generation backend. ``generate`` calls ``on_done`` as each answer is ready."""

    settings: GenerationSettings

    def render(self, request: str) -> str | list[dict[str, str]]:
        """The prompt for one request (:func:`~.prompts.render_prompt`, templated by local backends)."""
        ...

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None: ...

    def close(self) -> None: ...

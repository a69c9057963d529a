"""Samples from our loader (the items of ``medsafetybench eval``) and the solver that renders their prompt."""

from __future__ import annotations

from pathlib import Path

from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser
from inspect_ai.solver import Generate, Solver, TaskState, solver

from ..core.errors import MedSafetyError
from ..dataset.contract import pinned_contract
from ..dataset.loader import resolve_repo
from ..eval.pipeline import load_items
from ..eval.prompts import chat_messages, paper_prompt, paper_template_for
from ..eval.rows import EvalItem

__all__ = ["RAW_CHAT_TEMPLATE", "eval_items", "item_to_sample", "pinned_revision", "request_prompt"]

RAW_CHAT_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
"""A chat template that renders the prompt text as is: with ``--prompt-format paper`` on inspect's
``hf`` provider (``-M chat_template=...``) the model continues the paper's prompt exactly."""


def pinned_revision(data: str | None, revision: str | None) -> str | None:
    """``revision``, else the release tag (``v<contract version>``) for a Hub repo; None for a build folder."""
    if revision is not None or Path(resolve_repo(data)).is_dir():
        return revision
    return f"v{pinned_contract().version}"


def eval_items(
    config: str,
    split: str | None = None,
    source: str | None = None,
    per_principle: int | None = None,
    data: str | None = None,
    revision: str | None = None,
) -> list[EvalItem]:
    """The items ``medsafetybench eval`` selects with these options (:func:`~..eval.pipeline.load_items`)."""
    items, _ = load_items(
        data=data, revision=revision, config=config, source=source, per_principle=per_principle, split=split
    )
    return items


def item_to_sample(item: EvalItem) -> Sample:
    """One sample: the request as input, our id, and what the scorers and metrics group by."""
    return Sample(
        input=item.request,
        id=item.id,
        metadata={
            "request": item.request,
            "principle": item.principle.slug,
            "principle_number": int(item.principle),
            "source": item.source.value if item.source is not None else None,
            "side": item.side,
        },
    )


@solver
def request_prompt(
    prompt_format: str = "chat", template: str | None = None, system_prompt: str | None = None
) -> Solver:
    """The prompt ``medsafetybench eval`` sends: chat messages (``chat``), or the paper's template text as
    one user turn (``paper``; the template follows the model name unless ``template`` is given)."""
    if prompt_format not in ("chat", "paper"):
        raise MedSafetyError(f"prompt_format {prompt_format!r}: use chat or paper")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        request = state.metadata["request"]
        if prompt_format == "paper":
            text = paper_prompt(request, template or paper_template_for(str(state.model)), system_prompt)
            state.messages = [ChatMessageUser(content=text)]
        else:
            messages: list[ChatMessage] = []
            for m in chat_messages(request, system_prompt):
                cls = ChatMessageSystem if m["role"] == "system" else ChatMessageUser
                messages.append(cls(content=m["content"]))
            state.messages = messages
        return state

    return solve

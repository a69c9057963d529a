"""Turn demonstrations into token ids and labels, exactly as each recipe trains on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import MedSafetyError
from ..dataset.records import Demonstration
from .recipes import Recipe

__all__ = [
    "ALPACA_PROMPT_NO_INPUT",
    "IGNORE_INDEX",
    "TokenizedExample",
    "alpaca_prompt",
    "chat_conversation",
    "tokenize_alpaca",
    "tokenize_chat",
    "tokenize_demonstrations",
]

IGNORE_INDEX = -100
"""Label of a token that carries no loss (PyTorch's cross-entropy ignore index)."""

ALPACA_PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)
"""Alpaca-LoRA's ``prompt_no_input`` template (templates/alpaca.json), which upstream trained with."""


class TokenizedExample(BaseModel):
    """One training sequence: token ids and labels (``IGNORE_INDEX`` where no loss is taken)."""

    model_config = ConfigDict(frozen=True)

    id: str
    input_ids: list[int]
    labels: list[int]
    hit_max_length: bool = Field(description="The sequence was cut at (or filled) max_length; no EOS appended.")

    @property
    def loss_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def alpaca_prompt(instruction: str) -> str:
    """The prompt part of a training text (and the prompt to use at inference with this template)."""
    return ALPACA_PROMPT_NO_INPUT.format(instruction=instruction)


def tokenize_alpaca(
    tokenizer: Any, demo_id: str, instruction: str, response: str, max_length: int, loss_on_prompt: bool = True
) -> TokenizedExample:
    """Alpaca-LoRA's ``generate_and_tokenize_prompt``: truncate to ``max_length``, then append EOS only
    when it is not already last and the text was shorter than ``max_length``; labels copy the ids
    (prompt tokens set to ``IGNORE_INDEX`` when ``loss_on_prompt`` is False)."""
    full = tokenizer(alpaca_prompt(instruction) + response, truncation=True, max_length=max_length, padding=False)
    ids = list(full["input_ids"])
    truncated = len(ids) >= max_length
    if ids[-1] != tokenizer.eos_token_id and len(ids) < max_length:
        ids.append(tokenizer.eos_token_id)
    labels = list(ids)
    if not loss_on_prompt:
        prompt = tokenizer(alpaca_prompt(instruction), truncation=True, max_length=max_length, padding=False)
        n_prompt = len(prompt["input_ids"])
        labels = [IGNORE_INDEX] * n_prompt + labels[n_prompt:]
    return TokenizedExample(id=demo_id, input_ids=ids, labels=labels, hit_max_length=truncated)


def chat_conversation(instruction: str, response: str) -> dict[str, list[dict[str, str]]]:
    """TRL's conversational prompt/completion form of a demonstration."""
    return {
        "prompt": [{"role": "user", "content": instruction}],
        "completion": [{"role": "assistant", "content": response}],
    }


def _template_ids(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=add_generation_prompt, return_dict=True
    )
    return list(out["input_ids"])


def tokenize_chat(tokenizer: Any, demo_id: str, instruction: str, response: str, max_length: int) -> TokenizedExample:
    """The conversation through the model's chat template; loss on the assistant turn only (its
    end-of-turn tokens included), as TRL does for prompt/completion data; truncated to ``max_length``."""
    if not getattr(tokenizer, "chat_template", None):
        raise MedSafetyError(
            "the chat recipe needs a tokenizer with a chat template and this one has none; "
            "use --recipe paper (Alpaca template) or a model with a chat template"
        )
    conv = chat_conversation(instruction, response)
    prompt_ids = _template_ids(tokenizer, conv["prompt"], add_generation_prompt=True)
    ids = _template_ids(tokenizer, conv["prompt"] + conv["completion"], add_generation_prompt=False)
    if ids[: len(prompt_ids)] != prompt_ids:
        raise MedSafetyError(
            f"{demo_id}: the chat template renders the prompt differently alone and before a reply, "
            "so prompt and completion cannot be separated; use --recipe paper"
        )
    labels = [IGNORE_INDEX] * len(prompt_ids) + ids[len(prompt_ids) :]
    truncated = len(ids) > max_length
    return TokenizedExample(
        id=demo_id, input_ids=ids[:max_length], labels=labels[:max_length], hit_max_length=truncated
    )


def tokenize_demonstrations(
    demonstrations: Sequence[Demonstration], tokenizer: Any, recipe: Recipe
) -> list[TokenizedExample]:
    """Tokenize every demonstration for ``recipe``; examples without any loss token are an error."""
    out = []
    for demo in demonstrations:
        if recipe.template == "alpaca_no_input":
            ex = tokenize_alpaca(
                tokenizer, demo.id, demo.instruction, demo.response, recipe.max_length, recipe.loss_on_prompt
            )
        else:
            ex = tokenize_chat(tokenizer, demo.id, demo.instruction, demo.response, recipe.max_length)
        if ex.loss_tokens == 0:
            raise MedSafetyError(
                f"{demo.id}: no response token left within max_length={recipe.max_length}; raise --max-length"
            )
        out.append(ex)
    return out

"""The paper template and both label masks, token by token."""

from __future__ import annotations

from typing import Any

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.dataset.records import Demonstration
from medsafetybench.finetune.formatting import (
    ALPACA_PROMPT_NO_INPUT,
    IGNORE_INDEX,
    alpaca_prompt,
    chat_conversation,
    tokenize_alpaca,
    tokenize_chat,
    tokenize_demonstrations,
)
from medsafetybench.finetune.recipes import recipe_for


def test_alpaca_template_is_alpaca_loras_prompt_no_input() -> None:
    assert ALPACA_PROMPT_NO_INPUT == (
        "Below is an instruction that describes a task. Write a response that appropriately completes "
        "the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
    )
    assert alpaca_prompt("Do X.").endswith("### Instruction:\nDo X.\n\n### Response:\n")


def test_paper_ids_are_bos_text_eos_and_labels_copy_them(tokenizer: Any, demos: list[Demonstration]) -> None:
    d = demos[0]
    ex = tokenize_alpaca(tokenizer, d.id, d.instruction, d.response, max_length=256)
    text_ids = tokenizer(alpaca_prompt(d.instruction) + d.response, add_special_tokens=False)["input_ids"]
    assert ex.input_ids == [tokenizer.bos_token_id, *text_ids, tokenizer.eos_token_id]
    assert ex.labels == ex.input_ids  # train_on_inputs: loss on the prompt too, EOS included
    assert tokenizer.decode(ex.input_ids, skip_special_tokens=False) == (
        "<s>" + alpaca_prompt(d.instruction) + d.response + "</s>"
    )
    assert not ex.hit_max_length


def test_paper_truncation_drops_eos_like_alpaca_lora(tokenizer: Any, demos: list[Demonstration]) -> None:
    d = demos[1]
    full = tokenize_alpaca(tokenizer, d.id, d.instruction, d.response, max_length=256)
    cut = tokenize_alpaca(tokenizer, d.id, d.instruction, d.response, max_length=20)
    assert len(cut.input_ids) == 20 and cut.hit_max_length
    assert cut.input_ids == full.input_ids[:20]  # no EOS appended after truncation
    assert cut.labels == cut.input_ids
    exact = len(full.input_ids) - 1  # text fills max_length exactly: still no EOS (len < max_length fails)
    fit = tokenize_alpaca(tokenizer, d.id, d.instruction, d.response, max_length=exact)
    assert fit.input_ids == full.input_ids[:-1]


def test_paper_mask_option_hides_the_prompt(tokenizer: Any, demos: list[Demonstration]) -> None:
    d = demos[2]
    ex = tokenize_alpaca(tokenizer, d.id, d.instruction, d.response, max_length=256, loss_on_prompt=False)
    n_prompt = len(tokenizer(alpaca_prompt(d.instruction))["input_ids"])
    assert ex.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert ex.labels[n_prompt:] == ex.input_ids[n_prompt:]


def test_chat_labels_cover_exactly_the_assistant_turn(tokenizer: Any, demos: list[Demonstration]) -> None:
    d = demos[3]
    ex = tokenize_chat(tokenizer, d.id, d.instruction, d.response, max_length=1024)
    prompt = tokenizer.apply_chat_template(
        chat_conversation(d.instruction, d.response)["prompt"], tokenize=True, add_generation_prompt=True
    )
    prompt_ids = list(prompt["input_ids"] if isinstance(prompt, dict) or hasattr(prompt, "keys") else prompt)
    n = len(prompt_ids)
    assert ex.input_ids[:n] == prompt_ids
    assert ex.labels[:n] == [IGNORE_INDEX] * n
    assert ex.labels[n:] == ex.input_ids[n:]
    assert tokenizer.decode(ex.input_ids[n:]) == d.response + "</s>\n"  # the end-of-turn EOS is learned
    assert tokenizer.decode(ex.input_ids[:n]) == f"<|user|>\n{d.instruction}</s>\n<|assistant|>\n"


def test_chat_masking_matches_trls_own_preparation(tokenizer: Any, tiny_model: Any, demos: list[Demonstration]) -> None:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    rows = [chat_conversation(d.instruction, d.response) for d in demos[:3]]
    args = SFTConfig(output_dir="/tmp/unused-msb", max_length=None, report_to="none", use_cpu=True, bf16=False)
    trainer = SFTTrainer(model=tiny_model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    ours = [tokenize_chat(tokenizer, d.id, d.instruction, d.response, max_length=1024) for d in demos[:3]]
    for prepared, mine in zip(trainer.train_dataset, ours, strict=True):
        assert prepared["input_ids"] == mine.input_ids
        assert prepared["labels"] == mine.labels


def test_chat_truncation_and_missing_template(tokenizer: Any, demos: list[Demonstration]) -> None:
    d = demos[0]
    full = tokenize_chat(tokenizer, d.id, d.instruction, d.response, max_length=1024)
    cut = tokenize_chat(tokenizer, d.id, d.instruction, d.response, max_length=len(full.input_ids) - 3)
    assert cut.input_ids == full.input_ids[:-3] and cut.labels == full.labels[:-3] and cut.hit_max_length
    bare = tokenizer.__class__(tokenizer_object=tokenizer.backend_tokenizer, eos_token="</s>")
    with pytest.raises(MedSafetyError, match="has none; use --recipe paper"):
        tokenize_chat(bare, d.id, d.instruction, d.response, max_length=64)


def test_example_without_response_tokens_is_named(tokenizer: Any, demos: list[Demonstration]) -> None:
    recipe = recipe_for("chat", max_length=8)
    with pytest.raises(MedSafetyError, match=r"demo-medical-000: no response token left within max_length=8"):
        tokenize_demonstrations(demos[:1], tokenizer, recipe)

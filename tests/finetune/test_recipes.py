"""The recipes carry upstream's hyperparameters exactly and keep the effective batch at 128."""

from __future__ import annotations

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.finetune.plan import training_precision
from medsafetybench.finetune.recipes import CHAT, PAPER, gradient_accumulation, recipe_for


def test_paper_recipe_is_upstreams() -> None:
    assert (PAPER.lora_r, PAPER.lora_alpha, PAPER.lora_dropout) == (8, 16, 0.05)
    assert PAPER.target_modules == ("q_proj", "v_proj")
    assert (PAPER.epochs, PAPER.learning_rate, PAPER.warmup_steps, PAPER.max_length) == (3, 3e-4, 10, 256)
    assert (PAPER.effective_batch, PAPER.micro_batch) == (128, 4)
    assert gradient_accumulation(PAPER, 1) == 32
    assert (PAPER.optimizer, PAPER.gpu_precision, PAPER.template) == ("adamw_torch", "fp16", "alpaca_no_input")
    assert PAPER.loss_on_prompt is True and PAPER.padding_free is False


def test_chat_recipe_trains_on_completions_without_padding() -> None:
    assert CHAT.template == "chat_template"
    assert CHAT.loss_on_prompt is False
    assert CHAT.padding_free is True and CHAT.pad_to_multiple_of is None
    assert CHAT.gpu_precision == "bf16"
    assert CHAT.effective_batch == 128


def test_chat_recipe_keeps_the_papers_adapter() -> None:
    assert (CHAT.lora_r, CHAT.lora_alpha, CHAT.lora_dropout) == (8, 16, 0.05)
    assert CHAT.target_modules == ("q_proj", "v_proj") == PAPER.target_modules


@pytest.mark.parametrize(("world", "accum"), [(1, 32), (2, 16), (4, 8), (8, 4), (32, 1)])
def test_effective_batch_stays_128_for_any_gpu_count(world: int, accum: int) -> None:
    assert gradient_accumulation(PAPER, world) == accum
    assert accum * PAPER.micro_batch * world == 128


def test_indivisible_batch_is_a_clear_error() -> None:
    with pytest.raises(MedSafetyError, match=r"not divisible by micro-batch 4 x 3 process"):
        gradient_accumulation(PAPER, 3)
    for world in (3, 5, 6, 7):
        with pytest.raises(
            MedSafetyError, match=rf"no micro-batch divides it over {world} processes: pass --effective"
        ):
            gradient_accumulation(PAPER, world)
    with pytest.raises(MedSafetyError, match=r"e\.g\. 120\)"):
        gradient_accumulation(PAPER, 3)
    with pytest.raises(MedSafetyError, match=r"pick --micro-batch from 1, 2, 4, 8, 16, 32, 64$"):
        gradient_accumulation(recipe_for("paper", micro_batch=128, effective_batch=128), 2)
    with pytest.raises(MedSafetyError, match="micro_batch"):
        recipe_for("paper", micro_batch=3)


def test_overrides_and_unknown_names() -> None:
    r = recipe_for("paper", epochs=1, learning_rate=1e-4, lora_r=4, target_modules=["q_proj"], seed=None)
    assert (r.epochs, r.learning_rate, r.lora_r, r.target_modules, r.seed) == (1, 1e-4, 4, ("q_proj",), 42)
    with pytest.raises(MedSafetyError, match="unknown recipe 'dpo'"):
        recipe_for("dpo")
    with pytest.raises(MedSafetyError, match="unknown recipe setting"):
        recipe_for("paper", lora_rank=4)


def test_precision_is_fp32_on_cpu_and_falls_back_to_fp16_without_bf16() -> None:
    assert training_precision(PAPER, cuda=False, bf16_supported=False) == "fp32"
    assert training_precision(CHAT, cuda=False, bf16_supported=True) == "fp32"
    assert training_precision(PAPER, cuda=True, bf16_supported=True) == "fp16"
    assert training_precision(CHAT, cuda=True, bf16_supported=True) == "bf16"
    assert training_precision(CHAT, cuda=True, bf16_supported=False) == "fp16"


def test_target_modules_take_a_comma_separated_list_or_all_linear() -> None:
    assert recipe_for("paper", target_modules="q_proj, k_proj,").target_modules == ("q_proj", "k_proj")
    assert recipe_for("paper", target_modules=["o_proj"]).target_modules == ("o_proj",)
    assert recipe_for("chat", target_modules="all-linear").target_modules == "all-linear"
    with pytest.raises(MedSafetyError, match=r"bad paper recipe setting target_modules: .*no module names given"):
        recipe_for("paper", target_modules=" , ")

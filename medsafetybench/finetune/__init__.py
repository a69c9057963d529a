"""Safety fine-tuning pipeline: LoRA on the exact upstream mixes (TRL SFTTrainer + peft), and the
medical-skill retention check (lm-evaluation-harness). Heavy libraries load only when used."""

from __future__ import annotations

from .formatting import ALPACA_PROMPT_NO_INPUT, TokenizedExample, tokenize_demonstrations
from .manifest import DataSource, FinetuneManifest, LossPoint
from .recipes import CHAT, PAPER, RECIPES, Recipe, gradient_accumulation, recipe_for
from .trainer import run_finetune

__all__ = [
    "ALPACA_PROMPT_NO_INPUT",
    "CHAT",
    "PAPER",
    "RECIPES",
    "DataSource",
    "FinetuneManifest",
    "LossPoint",
    "Recipe",
    "TokenizedExample",
    "gradient_accumulation",
    "recipe_for",
    "run_finetune",
    "tokenize_demonstrations",
]

"""Safety fine-tuning pipeline: LoRA on the exact upstream mixes (TRL SFTTrainer + peft), and the
medical-skill retention check (lm-evaluation-harness). Heavy libraries load only when used.

A run is three steps, each usable alone: ``plan_finetune`` (check, tokenize, prepare ``out``) ->
``train`` (SFTTrainer, adapter and loss log) -> ``finetune_manifest``; ``run_finetune`` does all three."""

from __future__ import annotations

from .formatting import ALPACA_PROMPT_NO_INPUT, TokenizedExample, tokenize_demonstrations
from .manifest import DataSource, FinetuneManifest, LossPoint, finetune_manifest
from .plan import FinetunePlan, FinetuneRequest, plan_finetune
from .recipes import CHAT, PAPER, RECIPES, TUNABLE_SETTINGS, Recipe, gradient_accumulation, recipe_for
from .run import run_finetune
from .trainer import TrainedRun, train

__all__ = [
    "ALPACA_PROMPT_NO_INPUT",
    "CHAT",
    "PAPER",
    "RECIPES",
    "TUNABLE_SETTINGS",
    "DataSource",
    "FinetuneManifest",
    "FinetunePlan",
    "FinetuneRequest",
    "LossPoint",
    "Recipe",
    "TokenizedExample",
    "TrainedRun",
    "finetune_manifest",
    "gradient_accumulation",
    "plan_finetune",
    "recipe_for",
    "run_finetune",
    "tokenize_demonstrations",
    "train",
]

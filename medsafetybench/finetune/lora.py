"""The LoRA adapter of a recipe: its peft config, and the check that its target layers exist."""

from __future__ import annotations

from typing import Any

from ..core.errors import MedSafetyError
from .recipes import Recipe

__all__ = ["check_target_modules", "lora_config"]


def lora_config(recipe: Recipe) -> Any:
    """peft's ``LoraConfig`` for ``recipe`` (no bias, causal LM)."""
    from peft import LoraConfig

    targets = recipe.target_modules
    return LoraConfig(
        r=recipe.lora_r,
        lora_alpha=recipe.lora_alpha,
        lora_dropout=recipe.lora_dropout,
        target_modules=targets if isinstance(targets, str) else list(targets),
        bias="none",
        task_type="CAUSAL_LM",
    )


def _lora_wrappable(module: Any) -> bool:
    """Layer types peft's LoRA can wrap (bitsandbytes' Linear4bit / Linear8bitLt subclass torch Linear)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    kinds = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, Conv1D)
    return isinstance(module, kinds) or type(module).__name__ in {"Linear4bit", "Linear8bitLt"}


def check_target_modules(model: Any, target_modules: tuple[str, ...] | str, model_name: str) -> None:
    """Fail early, naming the model's LoRA-wrappable layers, when a LoRA target module does not exist.

    A target matches a layer whose full name equals it or ends with ``.<target>`` (peft's rule), and
    whose type LoRA can wrap (Linear, GPT-2's Conv1D, Embedding, Conv, bitsandbytes 4/8-bit Linear)."""
    if target_modules == "all-linear":
        return
    layers = [name for name, mod in model.named_modules() if name and _lora_wrappable(mod)]
    missing = [m for m in target_modules if not any(n == m or n.endswith("." + m) for n in layers)]
    if missing:
        have = ", ".join(sorted({n.rsplit(".", 1)[-1] for n in layers})) or "none"
        raise MedSafetyError(
            f"model {model_name} has no module named {', '.join(missing)} to put LoRA on; "
            f"its LoRA-capable layers are: {have} (pass --target-modules)"
        )

"""Training recipes: the paper's Alpaca-LoRA recipe and a modern chat recipe, as typed settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..core.errors import MedSafetyError

__all__ = ["CHAT", "PAPER", "RECIPES", "TUNABLE_SETTINGS", "Recipe", "gradient_accumulation", "recipe_for"]

RecipeName = Literal["paper", "chat"]


class Recipe(BaseModel):
    """Every setting that defines a fine-tuning run (the manifest records it as is)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: RecipeName
    template: Literal["alpaca_no_input", "chat_template"] = Field(
        description="alpaca_no_input: upstream's '### Instruction:' / '### Response:' text; "
        "chat_template: the model's own chat template."
    )
    loss_on_prompt: bool = Field(description="True: loss on every token (upstream train_on_inputs).")
    epochs: float = Field(gt=0, description="Epochs.")
    learning_rate: float = Field(gt=0, description="Peak learning rate.")
    effective_batch: int = Field(ge=1, description="Examples per optimizer step, over all GPUs.")
    micro_batch: int = Field(ge=1, description="Examples per forward pass on one GPU.")
    max_length: int = Field(ge=8, description="Tokens per example; longer examples are truncated.")
    warmup_steps: int = Field(ge=0, description="Linear warmup steps.")
    lr_scheduler: str = "linear"
    weight_decay: float = Field(default=0.0, ge=0)
    optimizer: str = "adamw_torch"
    lora_r: int = Field(ge=1, description="LoRA rank.")
    lora_alpha: int = Field(ge=1, description="LoRA alpha.")
    lora_dropout: float = Field(ge=0, lt=1, description="LoRA dropout.")
    target_modules: tuple[str, ...] | Literal["all-linear"] = Field(
        description="Layer names to put LoRA on (comma-separated), or all-linear."
    )
    gpu_precision: Literal["fp16", "bf16", "fp32"] = Field(
        description="Mixed precision on a GPU. CPUs always train in fp32 (no fp16 kernels there)."
    )
    padding_free: bool = Field(description="Concatenate a micro-batch into one sequence (no pad tokens).")
    pad_to_multiple_of: int | None = Field(default=None, ge=1)
    gradient_checkpointing: bool = Field(default=False, description="Recompute activations to save memory.")
    seed: int = Field(default=42, description="Seed.")

    @field_validator("target_modules", mode="before")
    @classmethod
    def _module_list(cls, value: Any) -> Any:
        """``q_proj,v_proj`` (a comma-separated string) or a list become a tuple; ``all-linear`` stays."""
        if isinstance(value, str) and value != "all-linear":
            value = value.split(",")
        if isinstance(value, list | tuple):
            value = tuple(v.strip() for v in value if v.strip())
            if not value:
                raise ValueError("no module names given")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        if self.effective_batch % self.micro_batch:
            raise ValueError(
                f"effective_batch {self.effective_batch} is not a multiple of micro_batch {self.micro_batch}"
            )
        if self.padding_free and self.pad_to_multiple_of:
            raise ValueError("padding_free and pad_to_multiple_of exclude each other")
        return self


PAPER = Recipe(
    name="paper",
    template="alpaca_no_input",
    loss_on_prompt=True,
    epochs=3,
    learning_rate=3e-4,
    effective_batch=128,
    micro_batch=4,
    max_length=256,
    warmup_steps=10,
    lora_r=8,
    lora_alpha=16,
    lora_dropout=0.05,
    target_modules=("q_proj", "v_proj"),
    gpu_precision="fp16",
    padding_free=False,
    pad_to_multiple_of=8,
)
"""Upstream's recipe (Alpaca-LoRA ``finetune.py``): batch 128 = 4 x 32, loss on prompt and response."""

CHAT = Recipe(
    name="chat",
    template="chat_template",
    loss_on_prompt=False,
    epochs=3,
    learning_rate=2e-4,
    effective_batch=128,
    micro_batch=16,
    max_length=1024,
    warmup_steps=10,
    lr_scheduler="cosine",
    lora_r=8,
    lora_alpha=16,
    lora_dropout=0.05,
    target_modules=("q_proj", "v_proj"),
    gpu_precision="bf16",
    padding_free=True,
    pad_to_multiple_of=None,
)
"""A modern recipe: chat template, loss on the completion only, bf16, padding-free batches.

It keeps the paper's adapter (r=8 on q/v) so the two recipes differ only in data handling; pass
``--target-modules all-linear --lora-r 16 --lora-alpha 32`` for a larger adapter (slower, see benchmarks)."""

RECIPES: dict[str, Recipe] = {"paper": PAPER, "chat": CHAT}

TUNABLE_SETTINGS: tuple[str, ...] = (
    "epochs",
    "learning_rate",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "effective_batch",
    "micro_batch",
    "max_length",
    "warmup_steps",
    "seed",
    "gradient_checkpointing",
)
"""Recipe settings a user may change per run (the ``finetune`` command has one option for each)."""


def recipe_for(name: str, **overrides: Any) -> Recipe:
    """A named recipe with some settings replaced (``None`` values are ignored)."""
    if name not in RECIPES:
        raise MedSafetyError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(changes) - set(Recipe.model_fields)
    if unknown:
        raise MedSafetyError(f"unknown recipe setting(s): {', '.join(sorted(unknown))}")
    try:
        return Recipe.model_validate({**RECIPES[name].model_dump(), **changes})
    except ValueError as exc:
        first = exc.errors()[0] if hasattr(exc, "errors") else {"msg": str(exc), "loc": ()}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise MedSafetyError(f"bad {name} recipe setting {where}: {first['msg']}".replace("  ", " ")) from None


def gradient_accumulation(recipe: Recipe, world_size: int) -> int:
    """Accumulation steps that keep ``recipe.effective_batch`` examples per step over ``world_size`` GPUs."""
    if world_size < 1:
        raise MedSafetyError(f"world size must be at least 1, got {world_size}")
    per_step = recipe.micro_batch * world_size
    if recipe.effective_batch % per_step:
        fits = [m for m in range(1, recipe.effective_batch + 1) if recipe.effective_batch % (m * world_size) == 0]
        hint = (
            f"pick --micro-batch from {', '.join(map(str, fits))}"
            if fits
            else f"no micro-batch divides it over {world_size} processes: pass --effective-batch as a multiple of "
            f"{world_size} (e.g. {recipe.effective_batch // per_step * per_step or per_step}) or use another "
            "GPU count (the paper's 128 needs 1, 2, 4, 8, ... processes)"
        )
        raise MedSafetyError(
            f"effective batch {recipe.effective_batch} is not divisible by micro-batch {recipe.micro_batch} x "
            f"{world_size} process(es); {hint}"
        )
    return recipe.effective_batch // per_step

"""The first step of a run: what to train, how, and where (the run plan); checked against ``out``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import MedSafetyError
from ..core.files import atomic_write_text
from ..core.text import utc_now
from ..dataset.records import Demonstration
from ..models.refs import ModelRef, resolve_model
from .checkpoints import CHECKPOINT_DIR, RUN_PLAN, last_complete_checkpoint, remove_owned_outputs
from .formatting import TokenizedExample, tokenize_demonstrations
from .loading import Precision, load_tokenizer
from .manifest import MANIFEST, DataSource, demonstrations_sha256
from .recipes import Recipe, gradient_accumulation

__all__ = [
    "FinetunePlan",
    "FinetuneRequest",
    "RunPlan",
    "plan_finetune",
    "prepare_out",
    "training_precision",
    "world_size",
]


class FinetuneRequest(BaseModel):
    """Everything a caller chooses for one fine-tuning run."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    demonstrations: list[Demonstration] = Field(description="Training demonstrations, in training order.")
    model: Any = Field(description="A model name for resolve_model, or a loaded causal LM (then pass tokenizer).")
    out: Path = Field(description="Adapter, tokenizer, manifest, loss log and checkpoints go here.")
    recipe: Recipe
    tokenizer: Any = Field(default=None, description="The tokenizer of a loaded model.")
    data: DataSource = Field(default_factory=DataSource.in_memory)
    qlora: bool = Field(default=False, description="Load the base in 4-bit NF4 (CUDA + bitsandbytes).")
    merge: bool = Field(default=False, description="Also write base + adapter merged to out/merged.")
    resume: bool = Field(default=True, description="Continue from the last complete checkpoint in out.")
    overwrite: bool = Field(default=False, description="Discard a finished run or checkpoints in out first.")
    save_steps: int = Field(default=5, ge=1, description="Checkpoint every N optimizer steps.")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after N optimizer steps.")
    callbacks: tuple[Any, ...] = Field(default=(), description="Extra transformers TrainerCallbacks.")


class RunPlan(BaseModel):
    """What ``run_plan.json`` records: a resumed run must match it, so checkpoints are never mixed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_model: str
    data: DataSource
    recipe: Recipe
    demonstrations_sha256: str
    qlora: bool
    world_size: int


class FinetunePlan(BaseModel):
    """A checked run, ready to train: tokenized examples, precision, batch split, checkpoint to resume."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    request: FinetuneRequest
    run_plan: RunPlan
    ref: ModelRef | None = Field(description="Where the base model loads from (None for a loaded model).")
    tokenizer: Any
    examples: list[TokenizedExample]
    precision: Precision
    cuda: bool
    device: str
    gradient_accumulation_steps: int
    resume_from: str | None
    started_at: str
    clock_start: float = Field(description="time.perf_counter() when planning began.")


def world_size() -> int:
    """Number of training processes (``accelerate launch`` / ``torchrun`` set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def training_precision(recipe: Recipe, cuda: bool, bf16_supported: bool) -> Precision:
    """fp32 on CPU; on a GPU the recipe's precision (bf16 falls back to fp16 where the GPU lacks it)."""
    if not cuda:
        return "fp32"
    if recipe.gpu_precision == "bf16" and not bf16_supported:
        return "fp16"
    return recipe.gpu_precision


def prepare_out(out: Path, plan: RunPlan, resume: bool, overwrite: bool) -> str | None:
    """Check ``out`` against the plan and write the plan there; return the checkpoint to resume from."""
    ckpt_dir = out / CHECKPOINT_DIR
    if overwrite:
        remove_owned_outputs(out)
    if (out / MANIFEST).is_file():
        raise MedSafetyError(f"{out} already holds a finished run (manifest.json); pass --overwrite or another --out")
    found = last_complete_checkpoint(ckpt_dir)
    last = str(found) if found is not None else None
    plan_file = out / RUN_PLAN
    new = plan.model_dump(mode="json")
    if plan_file.is_file() and last is not None:
        old = {"world_size": 1, **json.loads(plan_file.read_text())}  # plans before world_size: one process
        if isinstance(old.get("data"), dict):
            old["data"] = {"benign": 0, **old["data"]}  # plans before --benign: none
        if old["world_size"] != plan.world_size:
            raise MedSafetyError(
                f"{ckpt_dir} was trained on {old['world_size']} process(es), this run has "
                f"{plan.world_size}; resuming would skip other examples. Relaunch with "
                f"{old['world_size']} GPU(s), or pass --overwrite to start again"
            )
        changed = sorted(k for k in new if old.get(k) != new[k])
        if changed:
            raise MedSafetyError(
                f"{ckpt_dir} holds checkpoints of a different run ({', '.join(changed)} differ); "
                "use another --out, or --overwrite to discard them"
            )
    if last is not None and not resume:
        raise MedSafetyError(
            f"{ckpt_dir} holds checkpoint {Path(last).name}; drop --no-resume to continue it, "
            "or pass --overwrite to start again"
        )
    atomic_write_text(plan_file, json.dumps(new, indent=2) + "\n")
    return last


def _model_and_tokenizer(request: FinetuneRequest) -> tuple[str, ModelRef | None, Any]:
    """The base model's name, where it loads from (None when loaded already) and its tokenizer."""
    if isinstance(request.model, str):
        ref = resolve_model(request.model)
        return request.model, ref, load_tokenizer(ref)
    tokenizer = request.tokenizer
    if tokenizer is None:
        raise MedSafetyError("a loaded model needs its tokenizer (tokenizer=...)")
    if request.qlora:
        raise MedSafetyError("qlora=True needs a model name to load in 4-bit, not a loaded model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return str(getattr(request.model, "name_or_path", "") or "in-memory"), None, tokenizer


def plan_finetune(request: FinetuneRequest) -> FinetunePlan:
    """Check the request, tokenize the demonstrations and prepare ``out`` (``run_plan.json``, resume point).

    Nothing heavy loads here except the tokenizer: a bad batch split or setting fails before the model."""
    import torch

    started_at, clock_start = utc_now(), time.perf_counter()
    if not request.demonstrations:
        raise MedSafetyError("no demonstrations to train on")
    recipe = request.recipe
    cuda = torch.cuda.is_available()
    precision = training_precision(recipe, cuda, cuda and torch.cuda.is_bf16_supported())
    if request.qlora and precision == "fp16" and torch.cuda.is_bf16_supported():
        precision = "bf16"  # QLoRA computes in bf16 (the 4-bit weights are dequantized to it)
    base_name, ref, tokenizer = _model_and_tokenizer(request)
    procs = world_size()
    grad_acc = gradient_accumulation(recipe, procs)  # before any loading: a bad batch split fails fast
    run_plan = RunPlan(
        base_model=base_name,
        data=request.data,
        recipe=recipe,
        demonstrations_sha256=demonstrations_sha256(request.demonstrations),
        qlora=request.qlora,
        world_size=procs,
    )
    examples = tokenize_demonstrations(request.demonstrations, tokenizer, recipe)
    resume_from = prepare_out(Path(request.out), run_plan, request.resume, request.overwrite)
    return FinetunePlan(
        request=request,
        run_plan=run_plan,
        ref=ref,
        tokenizer=tokenizer,
        examples=examples,
        precision=precision,
        cuda=cuda,
        device=torch.cuda.get_device_name(0) if cuda else "cpu",
        gradient_accumulation_steps=grad_acc,
        resume_from=resume_from,
        started_at=started_at,
        clock_start=clock_start,
    )

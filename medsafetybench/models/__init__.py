"""The model layer below eval and finetune: model references, their resolution, and LoRA adapters.

Synthetic models and tokenizers for offline tests and benchmarks are in ``models.synthetic``.
"""

from __future__ import annotations

from .adapters import ADAPTER_FILES, adapter_sha256, check_adapter_base
from .refs import SMOLLM2_ALIAS, SMOLLM2_HUB_ID, ModelRef, resolve_model, same_model

__all__ = [
    "ADAPTER_FILES",
    "SMOLLM2_ALIAS",
    "SMOLLM2_HUB_ID",
    "ModelRef",
    "adapter_sha256",
    "check_adapter_base",
    "resolve_model",
    "same_model",
]

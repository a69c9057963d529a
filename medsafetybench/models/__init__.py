"""The model layer below eval and finetune: model references, their resolution, and LoRA adapters.

A ``.gguf`` is converted once into a cached safetensors folder (``models.gguf_cache``); ``models.quantize``
holds dynamic int8 for CPU generation. Synthetic models and tokenizers for offline tests and benchmarks
are in ``models.synthetic``.
"""

from __future__ import annotations

from .adapters import ADAPTER_FILES, adapter_sha256, check_adapter_base
from .gguf_cache import local_model
from .refs import SMOLLM2_ALIAS, SMOLLM2_HUB_ID, ModelRef, resolve_model, same_model

__all__ = [
    "ADAPTER_FILES",
    "SMOLLM2_ALIAS",
    "SMOLLM2_HUB_ID",
    "ModelRef",
    "adapter_sha256",
    "check_adapter_base",
    "local_model",
    "resolve_model",
    "same_model",
]

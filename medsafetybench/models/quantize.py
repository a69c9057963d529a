"""Dynamic int8 quantization of a model's Linear layers for CPU generation.

Weights are stored as int8 (per tensor); activations are quantized on the fly at each matmul
(``torch.ao.quantization.quantize_dynamic``, which the pinned torch ships; torchao's replacement
is not installed here). Answers can differ from fp32, so ``quantize`` is a generation setting.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from ..core.errors import MedSafetyError

__all__ = ["QUANTIZE_MODES", "Quantize", "check_quantize", "quantize_int8"]

Quantize = Literal["none", "int8"]
QUANTIZE_MODES: tuple[str, ...] = ("none", "int8")


def check_quantize(quantize: str, dtype: str, cuda: bool = False) -> None:
    """Refuse an unknown mode, and int8 anywhere but float32 on CPU (``dtype`` as resolved: ``auto`` is
    bfloat16 on a GPU)."""
    if quantize not in QUANTIZE_MODES:
        raise MedSafetyError(f"--quantize {quantize!r}: use {' or '.join(QUANTIZE_MODES)}")
    if quantize == "int8" and (cuda or dtype not in ("auto", "float32")):
        where = "a GPU" if cuda else f"dtype {dtype}"
        raise MedSafetyError(f"--quantize int8 is dynamic int8 for float32 generation on CPU, not for {where}")


def quantize_int8(model: Any) -> Any:
    """``model`` with every ``nn.Linear`` replaced by a dynamically quantized int8 Linear (in eval mode)."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch.ao announces its move to torchao; the API works in the pinned torch
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(model.eval(), {torch.nn.Linear}, dtype=torch.qint8, inplace=True)

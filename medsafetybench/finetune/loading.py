"""Load the base model and tokenizer for training."""

from __future__ import annotations

import os
from typing import Any, Literal

from ..core.errors import MedSafetyError
from ..models.gguf_cache import local_model
from ..models.refs import ModelRef

__all__ = ["Precision", "load_base_model", "load_tokenizer", "torch_dtype"]

Precision = Literal["fp32", "fp16", "bf16"]


def torch_dtype(precision: Precision) -> Any:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_tokenizer(ref: ModelRef) -> Any:
    """The model's tokenizer; a pad token is set (EOS) when the tokenizer has none."""
    from transformers import AutoTokenizer

    local = local_model(ref)  # a .gguf is converted once to a cached safetensors folder
    kwargs = {"gguf_file": local.gguf_file} if local.gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(local.path, **kwargs)
    except (OSError, ValueError) as exc:
        raise MedSafetyError(f"cannot load the tokenizer of {ref.display}: {_first_line(exc)}") from None
    if tokenizer.eos_token_id is None:
        raise MedSafetyError(f"the tokenizer of {ref.display} has no EOS token; both recipes need one")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(ref: ModelRef, precision: Precision, qlora: bool = False) -> Any:
    """The base causal LM in ``precision`` (4-bit NF4 weights with ``qlora``, which needs CUDA)."""
    import torch
    from transformers import AutoModelForCausalLM

    local = local_model(ref)  # a .gguf is converted once to a cached safetensors folder
    kwargs: dict[str, Any] = {"gguf_file": local.gguf_file} if local.gguf_file else {}
    if qlora:
        if not torch.cuda.is_available():
            raise MedSafetyError("--qlora needs a CUDA GPU (bitsandbytes 4-bit kernels); this machine has none")
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise MedSafetyError("--qlora needs bitsandbytes: pip install 'bitsandbytes>=0.45'") from None
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        precision = "bf16"
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    try:
        model = AutoModelForCausalLM.from_pretrained(local.path, dtype=torch_dtype(precision), **kwargs)
    except (OSError, ValueError) as exc:
        raise MedSafetyError(f"cannot load model {ref.display}: {_first_line(exc)}") from None
    if local.gguf_file and getattr(model, "hf_quantizer", None) is not None:
        # transformers dequantizes GGUF weights while loading; drop the marks that would make the
        # Trainer refuse the model as "quantized" (and keep them out of a merged model's config)
        model.hf_quantizer.remove_quantization_config(model)
        model.config._is_quantized = False
    model.config.use_cache = False
    return model

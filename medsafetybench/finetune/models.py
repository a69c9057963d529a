"""Load the base model and tokenizer for training, and check models and adapters before any work."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import MedSafetyError

if TYPE_CHECKING:
    from ..eval.models import ModelRef

__all__ = [
    "Precision",
    "check_adapter_base",
    "check_target_modules",
    "load_base_model",
    "load_tokenizer",
    "resolve_model",
    "torch_dtype",
]

Precision = Literal["fp32", "fp16", "bf16"]


def resolve_model(name: str) -> ModelRef:
    """The eval pipeline's model names (``smollm2-135m``, a folder, a ``.gguf`` file, a Hub id)."""
    from ..eval.models import resolve_model as resolve

    return resolve(name)


def torch_dtype(precision: Precision) -> Any:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_tokenizer(ref: ModelRef) -> Any:
    """The model's tokenizer; a pad token is set (EOS) when the tokenizer has none."""
    from transformers import AutoTokenizer

    kwargs = {"gguf_file": ref.gguf_file} if ref.gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(ref.path, **kwargs)
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

    kwargs: dict[str, Any] = {"gguf_file": ref.gguf_file} if ref.gguf_file else {}
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
        model = AutoModelForCausalLM.from_pretrained(ref.path, dtype=torch_dtype(precision), **kwargs)
    except (OSError, ValueError) as exc:
        raise MedSafetyError(f"cannot load model {ref.display}: {_first_line(exc)}") from None
    if ref.gguf_file and getattr(model, "hf_quantizer", None) is not None:
        # transformers dequantizes GGUF weights while loading; drop the marks that would make the
        # Trainer refuse the model as "quantized" (and keep them out of a merged model's config)
        model.hf_quantizer.remove_quantization_config(model)
        model.config._is_quantized = False
    model.config.use_cache = False
    return model


def _lora_wrappable(module: Any) -> bool:
    """Layer types peft's LoRA can wrap (bitsandbytes' Linear4bit / Linear8bitLt subclass torch Linear)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    kinds = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, Conv1D)
    return isinstance(module, kinds) or type(module).__name__ in {"Linear4bit", "Linear8bitLt"}


def check_target_modules(model: Any, target_modules: tuple[str, ...] | str, model_name: str) -> None:
    """Fail early, naming the model's LoRA-wrappable layers, when a LoRA target module does not exist.

    A target matches a layer whose full name equals it or ends with ``.<target>`` (peft's rule), and
    whose type LoRA can wrap (Linear, GPT-2's Conv1D, Embedding, Conv, bitsandbytes 4/8-bit Linear)."""
    if target_modules == "all-linear":
        return
    layers = [name for name, mod in model.named_modules() if name and _lora_wrappable(mod)]
    missing = [m for m in target_modules if not any(n == m or n.endswith("." + m) for n in layers)]
    if missing:
        have = ", ".join(sorted({n.rsplit(".", 1)[-1] for n in layers})) or "none"
        raise MedSafetyError(
            f"model {model_name} has no module named {', '.join(missing)} to put LoRA on; "
            f"its LoRA-capable layers are: {have} (pass --target-modules)"
        )


def _same_model(a: str, b: str) -> bool:
    def norm(x: str) -> str:
        p = Path(x)
        return str(p.resolve()) if p.exists() else x.rstrip("/")

    return norm(a) == norm(b)


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
    if not base:
        return
    ref = resolve_model(model_name)
    if not (_same_model(base, model_name) or _same_model(resolve_model(base).display, ref.display)):
        raise MedSafetyError(
            f"adapter {adapter} was trained on {base} (per {source.name}), not on {model_name}; pass --model {base}"
        )

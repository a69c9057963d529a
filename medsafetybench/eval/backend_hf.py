"""The ``hf`` backend: transformers generate, length-sorted left-padded batches, only new tokens decoded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.errors import MedSafetyError
from ..models.quantize import check_quantize
from ..models.refs import ModelRef
from .generation import Completion, OnCompletion, PromptJob
from .prompts import apply_chat_template, render_prompt
from .rows import GenerationSettings

__all__ = ["HFGenerator", "auto_batch_size", "encode_prompts", "load_hf"]


def _torch_dtype(name: str, cuda: bool) -> Any:
    import torch

    if name == "auto":
        return torch.bfloat16 if cuda else torch.float32
    try:
        return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]
    except KeyError:
        raise MedSafetyError(f"unknown --dtype {name!r}; use auto, bfloat16, float16 or float32") from None


def load_hf(ref: ModelRef, adapter: str | None, dtype: str, quantize: str = "none") -> tuple[Any, Any]:
    """Load model and tokenizer (bf16 on GPU by default; a local GGUF from its converted cache folder);
    a LoRA adapter is merged in; ``quantize="int8"`` then quantizes the Linear layers (CPU only)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..models.gguf_cache import local_model

    if adapter:
        from ..models.adapters import check_adapter_base

        check_adapter_base(adapter, ref.display)  # before loading anything: an adapter for another base
    cuda = torch.cuda.is_available()
    if quantize != "none":
        check_quantize(quantize, dtype, cuda)
    local = local_model(ref)  # a .gguf is converted once, then loaded from safetensors
    kwargs: dict[str, Any] = {"gguf_file": local.gguf_file} if local.gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(local.path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            local.path, dtype=_torch_dtype(dtype, cuda), device_map="cuda" if cuda else None, **kwargs
        )
    except OSError as exc:
        raise MedSafetyError(f"cannot load model {ref.display}: {str(exc).splitlines()[0]}") from None
    if adapter:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        except (OSError, ValueError) as exc:
            raise MedSafetyError(f"cannot load adapter {adapter}: {str(exc).splitlines()[0]}") from None
    model.eval()
    if quantize == "int8":
        from ..models.quantize import quantize_int8

        model = quantize_int8(model)
    return model, tokenizer


def auto_batch_size(model: Any, max_total_tokens: int, cap: int = 256) -> int:
    """Batch size whose KV cache fits in 60% of free GPU memory (8 on CPU)."""
    import torch

    if not torch.cuda.is_available():
        return 8
    cfg = model.config
    heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    per_token = 2 * cfg.num_hidden_layers * heads * head_dim * model.dtype.itemsize
    torch.cuda.empty_cache()
    free, _ = torch.cuda.mem_get_info()
    return max(1, min(cap, int(0.6 * free) // (per_token * max(1, max_total_tokens))))


def encode_prompts(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of rendered prompts; BOS is added only when the text does not already start with it
    (chat templates often write BOS themselves), so a prompt never gets two."""
    bos = tokenizer.bos_token
    return [tokenizer(t, add_special_tokens=not (bos and t.startswith(bos)))["input_ids"] for t in texts]


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids = configured if isinstance(configured, list) else [configured]
    ids = [i for i in [*ids, tokenizer.eos_token_id] if i is not None]
    return sorted(set(ids))


class HFGenerator:
    """Greedy batched generation with transformers."""

    def __init__(
        self,
        settings: GenerationSettings,
        ref: ModelRef,
        batch_size: int | None = None,
        model: Any = None,
        tokenizer: Any = None,
    ) -> None:
        self.settings = settings
        if model is None or tokenizer is None:
            model, tokenizer = load_hf(ref, settings.adapter, settings.dtype, settings.quantize)
        self.model_files: str | None = getattr(model, "name_or_path", None) or None
        """What the weights were loaded from (a GGUF's converted cache folder), for ``run.json``."""
        self.model, self.tokenizer = model, tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.batch_size = batch_size
        self.last_batch_size: int | None = None

    def render(self, request: str) -> str:
        prompt = render_prompt(request, self.settings)
        return prompt if isinstance(prompt, str) else self.render_messages(prompt)

    def render_messages(self, messages: list[dict[str, str]]) -> str:
        return apply_chat_template(self.tokenizer, messages, self.settings.model)

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None:
        import torch
        from transformers import GenerationConfig

        texts = [j.prompt if isinstance(j.prompt, str) else self.render_messages(j.prompt) for j in jobs]
        ids = encode_prompts(self.tokenizer, texts)
        order = sorted(range(len(jobs)), key=lambda i: -len(ids[i]))  # longest first: OOM shows early
        s = self.settings
        longest = max((len(x) for x in ids), default=0)
        batch_size = self.batch_size or auto_batch_size(self.model, longest + s.max_new_tokens)
        tok = self.tokenizer
        eos = None if s.ignore_eos else _eos_ids(self.model, tok)
        config = GenerationConfig(
            max_new_tokens=s.max_new_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
            eos_token_id=eos,
        )
        device = self.model.device
        start = 0
        while start < len(order):
            chunk = order[start : start + batch_size]
            batch = tok.pad({"input_ids": [ids[i] for i in chunk]}, padding=True, return_tensors="pt")
            try:
                with torch.inference_mode():
                    out = self.model.generate(
                        input_ids=batch["input_ids"].to(device),
                        attention_mask=batch["attention_mask"].to(device),
                        generation_config=config,
                    )
            except torch.OutOfMemoryError:
                if batch_size == 1:
                    raise MedSafetyError(f"out of GPU memory at batch size 1 (item {jobs[chunk[0]].id})") from None
                batch_size = max(1, batch_size // 2)  # retry the same items in smaller batches
                torch.cuda.empty_cache()
                continue
            new = out[:, batch["input_ids"].shape[1] :].tolist()
            for row, i in zip(new, chunk, strict=True):
                n, finish = len(row), "length"
                stop = next((k for k, t in enumerate(row) if eos and t in eos), None)
                if stop is not None:
                    n, finish = stop + 1, "stop"
                text = tok.decode(row[:n], skip_special_tokens=True)
                on_done(Completion(jobs[i].id, text, len(ids[i]), n, finish))
            start += len(chunk)
        self.last_batch_size = batch_size

    def close(self) -> None:
        del self.model

"""The ``vllm`` backend: the way to scale past one GPU (``--tensor-parallel-size``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import MedSafetyError
from ..models.refs import ModelRef
from .backend_hf import encode_prompts
from .generation import Completion, OnCompletion, PromptJob
from .prompts import apply_chat_template, render_prompt
from .rows import GenerationSettings

__all__ = ["VLLMGenerator", "lora_rank"]

_CHUNK = 512  # prompts per vLLM call: a killed run loses at most one chunk
_VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def lora_rank(adapter: str) -> int:
    """``max_lora_rank`` for vLLM: the adapter's largest rank, rounded up to a rank vLLM accepts."""
    config = json.loads((Path(adapter) / "adapter_config.json").read_text())
    ranks = [int(config.get("r") or 8), *(int(r) for r in (config.get("rank_pattern") or {}).values())]
    needed = max(ranks)
    for rank in _VLLM_LORA_RANKS:
        if rank >= needed:
            return rank
    raise MedSafetyError(f"adapter {adapter}: LoRA rank {needed} is above vLLM's maximum ({_VLLM_LORA_RANKS[-1]})")


class VLLMGenerator:
    """Greedy generation with vLLM; imported lazily so the package works without it.

    Prompts are rendered and tokenized here exactly as in the ``hf`` backend and passed as token
    ids, so vLLM never adds a second BOS to a chat template that already wrote one.
    """

    def __init__(self, settings: GenerationSettings, ref: ModelRef, tensor_parallel_size: int = 1) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise MedSafetyError(
                "the vllm backend needs vLLM: pip install 'medsafetybench[vllm]' (or use --backend hf)"
            ) from None
        self.settings = settings
        lora: dict[str, Any] = {}
        if settings.adapter:
            from ..models.adapters import check_adapter_base

            check_adapter_base(settings.adapter, ref.display)  # before loading anything
            lora = {"enable_lora": True, "max_lora_rank": lora_rank(settings.adapter)}
        model = f"{ref.path}/{ref.gguf_file}" if ref.gguf_file else ref.path
        self.llm: Any = LLM(
            model=model,
            dtype="auto" if settings.dtype == "auto" else settings.dtype,
            tensor_parallel_size=tensor_parallel_size,
            **lora,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def render(self, request: str) -> str:
        prompt = render_prompt(request, self.settings)
        return prompt if isinstance(prompt, str) else self._chat(prompt)

    def _chat(self, messages: list[dict[str, str]]) -> str:
        return apply_chat_template(self.tokenizer, messages, self.settings.model)

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(
            temperature=0.0, max_tokens=self.settings.max_new_tokens, ignore_eos=self.settings.ignore_eos
        )
        lora = None
        if self.settings.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.settings.adapter)
        for start in range(0, len(jobs), _CHUNK):
            chunk = jobs[start : start + _CHUNK]
            texts = [j.prompt if isinstance(j.prompt, str) else self._chat(j.prompt) for j in chunk]
            prompts = [TokensPrompt(prompt_token_ids=ids) for ids in encode_prompts(self.tokenizer, texts)]
            outputs = self.llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
            for job, out in zip(chunk, outputs, strict=True):
                gen = out.outputs[0]
                on_done(Completion(job.id, gen.text, len(out.prompt_token_ids), len(gen.token_ids), gen.finish_reason))

    def close(self) -> None:
        del self.llm

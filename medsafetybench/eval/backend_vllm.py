"""The ``vllm`` backend: the way to scale past one GPU (``--tensor-parallel-size``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import MedSafetyError
from .generation import Completion, OnCompletion, PromptJob
from .models import ModelRef
from .prompts import chat_messages, paper_prompt
from .schema import GenerationSettings

__all__ = ["VLLMGenerator"]

_CHUNK = 512  # prompts per vLLM call: a killed run loses at most one chunk


class VLLMGenerator:
    """Greedy generation with vLLM; imported lazily so the package works without it."""

    def __init__(self, settings: GenerationSettings, ref: ModelRef, tensor_parallel_size: int = 1) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise MedSafetyError(
                "the vllm backend needs vLLM: pip install 'medsafetybench[vllm]' (or use --backend hf)"
            ) from None
        self.settings = settings
        model = f"{ref.path}/{ref.gguf_file}" if ref.gguf_file else ref.path
        dtype = "auto" if settings.dtype == "auto" else settings.dtype
        self.llm: Any = LLM(
            model=model,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            enable_lora=settings.adapter is not None,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def render(self, request: str) -> str:
        s = self.settings
        if s.prompt_format == "paper":
            return paper_prompt(request, s.template, s.system_prompt)
        return self.tokenizer.apply_chat_template(
            chat_messages(request, s.system_prompt), tokenize=False, add_generation_prompt=True
        )

    def generate(self, jobs: Sequence[PromptJob], on_done: OnCompletion) -> None:
        from vllm import SamplingParams

        params = SamplingParams(
            temperature=0.0, max_tokens=self.settings.max_new_tokens, ignore_eos=self.settings.ignore_eos
        )
        lora = None
        if self.settings.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.settings.adapter)
        for start in range(0, len(jobs), _CHUNK):
            chunk = jobs[start : start + _CHUNK]
            prompts = [
                j.prompt
                if isinstance(j.prompt, str)
                else self.tokenizer.apply_chat_template(j.prompt, tokenize=False, add_generation_prompt=True)
                for j in chunk
            ]
            outputs = self.llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
            for job, out in zip(chunk, outputs, strict=True):
                gen = out.outputs[0]
                on_done(Completion(job.id, gen.text, len(out.prompt_token_ids), len(gen.token_ids), gen.finish_reason))

    def close(self) -> None:
        del self.llm

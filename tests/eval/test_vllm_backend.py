"""The vllm backend against a fake ``vllm`` module (vLLM itself needs a GPU): token-id prompts, LoRA."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.eval.generation import PromptJob
from medsafetybench.eval.rows import GenerationSettings
from medsafetybench.models import resolve_model

from .helpers import CHAT_TEMPLATE


class FakeLLM:
    instances: ClassVar[list[FakeLLM]] = []

    def __init__(self, model: str, **kwargs: Any) -> None:
        from transformers import AutoTokenizer

        self.model, self.kwargs, self.calls = model, kwargs, []
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.tokenizer.chat_template = "<s>" + CHAT_TEMPLATE  # a template that writes BOS itself
        FakeLLM.instances.append(self)

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, prompts: list[dict[str, Any]], params: Any, lora_request: Any = None, use_tqdm: bool = True):  # type: ignore[no-untyped-def]
        self.calls.append((prompts, lora_request))
        gen = types.SimpleNamespace(text="ok", token_ids=[5, 6], finish_reason="stop")
        return [types.SimpleNamespace(prompt_token_ids=p["prompt_token_ids"], outputs=[gen]) for p in prompts]


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> type[FakeLLM]:
    vllm = types.ModuleType("vllm")
    vllm.LLM = FakeLLM  # type: ignore[attr-defined]
    vllm.SamplingParams = lambda **kw: kw  # type: ignore[attr-defined]
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = lambda prompt_token_ids: {"prompt_token_ids": prompt_token_ids}  # type: ignore[attr-defined]
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = lambda name, i, path: (name, i, path)  # type: ignore[attr-defined]
    for name, module in {"vllm": vllm, "vllm.inputs": inputs, "vllm.lora": lora, "vllm.lora.request": request}.items():
        monkeypatch.setitem(sys.modules, name, module)
    FakeLLM.instances = []
    return FakeLLM


def _settings(model: str, fmt: str = "chat", adapter: str | None = None) -> GenerationSettings:
    return GenerationSettings(
        backend="vllm",
        model=model,
        adapter=adapter,
        prompt_format=fmt,  # type: ignore[arg-type]
        template="chat" if fmt == "chat" else "paper-llama2",
        max_new_tokens=4,
        dtype="auto",
    )


def test_prompts_are_token_ids_with_a_single_bos(tiny_llama: Path, fake_vllm: type[FakeLLM]) -> None:
    from medsafetybench.eval.backend_vllm import VLLMGenerator

    gen = VLLMGenerator(_settings(str(tiny_llama)), resolve_model(str(tiny_llama)))
    (llm,) = fake_vllm.instances
    assert "enable_lora" not in llm.kwargs
    done: list[Any] = []
    gen.generate(
        [PromptJob("a", gen.render("help me")), PromptJob("b", [{"role": "user", "content": "x"}])], done.append
    )
    ((prompts, lora_request),) = llm.calls
    bos = llm.tokenizer.bos_token_id
    for p in prompts:
        ids = p["prompt_token_ids"]
        assert ids[0] == bos and ids[1] != bos and ids.count(bos) == 1
    assert (
        prompts[0]["prompt_token_ids"]
        == llm.tokenizer("<s><|user|>help me</s><|assistant|>", add_special_tokens=False)["input_ids"]
    )
    assert lora_request is None
    assert [(c.id, c.text, c.n_new_tokens, c.finish_reason) for c in done] == [
        ("a", "ok", 2, "stop"),
        ("b", "ok", 2, "stop"),
    ]


def _adapter(folder: Path, base: str, rank: int) -> Path:
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "base_model_name_or_path": base}))
    return folder


def test_adapter_is_checked_and_sets_max_lora_rank(tiny_llama: Path, tmp_path: Path, fake_vllm: type[FakeLLM]) -> None:
    from medsafetybench.eval.backend_vllm import VLLMGenerator

    ref = resolve_model(str(tiny_llama))
    adapter = _adapter(tmp_path / "ok", str(tiny_llama), rank=12)
    gen = VLLMGenerator(_settings(str(tiny_llama), "paper", str(adapter)), ref)
    (llm,) = fake_vllm.instances
    assert (llm.kwargs["enable_lora"], llm.kwargs["max_lora_rank"]) == (True, 16)
    gen.generate([PromptJob("a", gen.render("q"))], lambda c: None)
    assert llm.calls[0][1] == ("adapter", 1, str(adapter))
    wrong = _adapter(tmp_path / "wrong", "some-org/another-model", rank=8)
    with pytest.raises(MedSafetyError, match="was trained on some-org/another-model"):
        VLLMGenerator(_settings(str(tiny_llama), adapter=str(wrong)), ref)
    assert len(fake_vllm.instances) == 1  # refused before loading anything

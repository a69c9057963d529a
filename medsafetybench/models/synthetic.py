"""Random-init models and locally trained tokenizers, for offline tests and benchmarks.

Nothing here downloads anything: the tokenizer is a byte-level BPE trained on the given texts
and the model is a Llama built from a config with random weights.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["CHAT_TEMPLATE", "LLAMA2_7B_SHAPE", "TINY_SHAPE", "random_llama", "train_tokenizer"]

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + '</s>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
"""A minimal chat template whose assistant turn ends with EOS (so the model learns to stop)."""

LLAMA2_7B_SHAPE: dict[str, int] = {
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "intermediate_size": 11008,
    "vocab_size": 32000,
    "max_position_embeddings": 4096,
}
TINY_SHAPE: dict[str, int] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "intermediate_size": 64,
    "vocab_size": 512,
    "max_position_embeddings": 1024,
}


def train_tokenizer(texts: Iterable[str], vocab_size: int, pad_to: int | None = None) -> Any:
    """A Llama-like fast tokenizer (BOS prepended, ``</s>`` EOS, chat template) trained on ``texts``;
    ``pad_to`` adds placeholder tokens until it has that many ids (a model's full vocabulary)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>", "<|user|>", "<|assistant|>", "<|system|>"]
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(list(texts), trainer=trainer)
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", core.token_to_id("<s>"))]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<|user|>", "<|assistant|>", "<|system|>"],
    )
    tok.chat_template = CHAT_TEMPLATE
    if pad_to is not None and len(tok) < pad_to:
        tok.add_tokens([f"<extra_{i}>" for i in range(len(tok), pad_to)])
    return tok


def random_llama(
    shape: dict[str, int], dtype: Any = None, device: Any = None, seed: int = 0, use_cache: bool = False
) -> Any:
    """A ``LlamaForCausalLM`` with random weights (sdpa attention), built directly on ``device``; ids
    1/2/3 are BOS/EOS/PAD as in :func:`train_tokenizer`. ``use_cache`` keeps the KV cache (generation)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(seed)
    config = LlamaConfig(
        **shape, bos_token_id=1, eos_token_id=2, pad_token_id=3, tie_word_embeddings=False, use_cache=use_cache
    )
    config._attn_implementation = "sdpa"
    with torch.device(device or "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype or torch.float32, attn_implementation="sdpa")
    return model

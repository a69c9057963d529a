"""GPU throughput of the eval hf backend vs an upstream-style loop, on a random-init Llama-2-7B shape.

Run once on an H100/H200, from the repo root (no downloads; the tokenizer is trained locally):

    PYTHONPATH=. python benchmarks/gpu_eval.py --data .gpu/build --out gpu_eval.json

(a) upstream-style: one prompt at a time through a transformers ``text-generation`` pipeline, as
    the paper's code did, on ``--upstream-prompts`` prompts (3 by default: it is slow);
(b) ``medsafetybench.eval.backend_hf.HFGenerator`` (length-sorted, left-padded batches sized to
    the free GPU memory) on all ``--n-prompts`` prompts.
Both use greedy decoding with EOS disabled, so every prompt gets exactly ``--new-tokens`` tokens.
Prompts: the real medical_test requests in the paper's Llama-2 template when ``--data`` has a build
(needs pydantic + datasets), else synthetic requests of realistic length. Model and tokenizer come from
``medsafetybench.models.synthetic``: a BPE trained on the prompts, padded with added tokens up to the
model's 32,000 ids. ``--tiny`` runs a 2-layer model on CPU or GPU to check the script itself.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

_WORDS = (
    "patient",
    "doctor",
    "clinic",
    "prescription",
    "records",
    "consent",
    "insurance",
    "dosage",
    "opioid",
    "diagnosis",
    "hospital",
    "nurse",
    "treatment",
    "surgery",
    "privacy",
    "data",
    "trial",
    "vaccine",
    "antibiotic",
    "therapy",
    "symptoms",
    "pharmacy",
    "referral",
    "billing",
    "emergency",
    "pediatric",
    "elderly",
    "guidelines",
    "evidence",
    "ethics",
    "license",
    "confidential",
    "medication",
    "chart",
)


def real_requests(data: str, n: int) -> list[str] | None:
    """The first ``n`` medical_test requests of a build, or None if it cannot be read."""
    try:
        import medsafetybench

        reqs = [r.request for r in medsafetybench.records("medical_test", repo_id=data)]  # type: ignore[attr-defined]
    except Exception as exc:  # no build, or pydantic/datasets missing: fall back to synthetic prompts
        print(f"[gpu_eval] real prompts unavailable ({type(exc).__name__}: {exc}); using synthetic ones")
        return None
    return [reqs[i % len(reqs)] for i in range(n)] if reqs else None


def synthetic_requests(n: int, seed: int = 0) -> list[str]:
    """Requests of 20-60 words (the benchmark's requests are one to three sentences)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(20, 60))) + "?" for _ in range(n)]


def build_tokenizer(texts: list[str], vocab: int) -> Any:
    """The library's BPE trained on the prompts, padded with added tokens so its size equals the model's vocab."""
    from medsafetybench.models.synthetic import train_tokenizer

    return train_tokenizer(texts, vocab_size=min(vocab, 8000), pad_to=vocab)


def build_model(shape: dict[str, int], tokenizer: Any, device: str) -> Any:
    """The library's random Llama (bf16 on GPU), KV cache on, EOS disabled: fixed-length answers."""
    import torch

    from medsafetybench.models.synthetic import random_llama

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = random_llama({**shape, "vocab_size": len(tokenizer)}, dtype=dtype, device=device, use_cache=True)
    model.eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def upstream_loop(model: Any, tokenizer: Any, prompts: list[str], new_tokens: int) -> dict[str, Any]:
    """One prompt at a time through a text-generation pipeline, greedy (the paper code's pattern)."""
    import torch
    from transformers import pipeline

    pipe = pipeline("text-generation", model=model, tokenizer=tokenizer)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    pipe(prompts[0], max_new_tokens=4, do_sample=False, return_full_text=False)  # warm-up
    sync()
    start = time.perf_counter()
    for p in prompts:
        pipe(p, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, return_full_text=False)
    sync()
    seconds = time.perf_counter() - start
    tokens = new_tokens * len(prompts)  # EOS disabled and min_new_tokens set: exactly new_tokens each
    return {"prompts": len(prompts), "new_tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def backend_run(
    model: Any, tokenizer: Any, prompts: list[str], new_tokens: int, batch_size: int | None, deadline: float
) -> dict[str, Any]:
    """The hf backend on all prompts, fed one batch at a time so it can stop before ``deadline``.

    Feeding the backend batch by batch (longest prompts first, as it sorts itself) gives the same
    batches as one call with all prompts; the deadline only matters if the device is far slower
    than expected, and the JSON then says how many prompts were done.
    """
    import torch

    from medsafetybench.eval.backend_hf import HFGenerator, auto_batch_size
    from medsafetybench.eval.generation import PromptJob
    from medsafetybench.eval.rows import GenerationSettings
    from medsafetybench.models import ModelRef

    settings = GenerationSettings(
        backend="hf",
        model="random-llama2-7b-shape",
        prompt_format="paper",
        template="paper-llama2",
        max_new_tokens=new_tokens,
        dtype=str(model.dtype).removeprefix("torch."),
        ignore_eos=True,
    )
    gen = HFGenerator(settings, ModelRef(path="random"), batch_size=batch_size, model=model, tokenizer=tokenizer)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    gen.settings = settings.model_copy(update={"max_new_tokens": 4})
    gen.generate([PromptJob("warm", prompts[0])], lambda c: None)  # warm-up
    gen.settings = settings
    lengths = [len(tokenizer(p)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    size = batch_size or auto_batch_size(model, max(lengths) + new_tokens)
    gen.batch_size = size
    counts: list[int] = []
    sync()
    start = time.perf_counter()
    for k in range(0, len(order), size):
        if k and time.perf_counter() + (time.perf_counter() - start) / k * size > deadline:
            print(f"[gpu_eval] stopping after {k} prompts to stay within the time limit")
            break
        jobs = [PromptJob(str(i), prompts[i]) for i in order[k : k + size]]
        gen.generate(jobs, lambda c: counts.append(c.n_new_tokens or 0))
    sync()
    seconds = time.perf_counter() - start
    return {
        "prompts": len(counts),
        "new_tokens": sum(counts),
        "all_fixed_length": all(c == new_tokens for c in counts),
        "seconds": seconds,
        "tokens_per_s": sum(counts) / seconds,
        "batch_size": gen.last_batch_size,
        "batch_size_requested": size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--data", default=".gpu/build", help="build folder with medical_test (optional)")
    parser.add_argument("--n-prompts", type=int, default=900)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--upstream-prompts", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: sized to free GPU memory")
    parser.add_argument("--tiny", action="store_true", help="2-layer model: check the script on CPU")
    parser.add_argument("--time-limit", type=float, default=225.0, help="seconds from start; stops early")
    args = parser.parse_args(argv)

    import torch

    from medsafetybench.core.versions import package_versions
    from medsafetybench.eval.prompts import paper_prompt
    from medsafetybench.models.synthetic import LLAMA2_7B_SHAPE, TINY_SHAPE

    t0 = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu",
        **package_versions(("torch", "transformers")),
        "shape": "tiny" if args.tiny else "llama-2-7b",
        "new_tokens_per_prompt": args.new_tokens,
        "eos_disabled": True,
    }
    requests = real_requests(args.data, args.n_prompts)
    result["prompt_source"] = "medical_test" if requests else "synthetic"
    prompts = [paper_prompt(r, "paper-llama2") for r in (requests or synthetic_requests(args.n_prompts))]
    tokenizer = build_tokenizer(prompts, 32000)
    lengths = [len(tokenizer(p)["input_ids"]) for p in prompts]
    result["prompt_tokens"] = {"mean": sum(lengths) / len(lengths), "max": max(lengths), "min": min(lengths)}
    model = build_model(TINY_SHAPE if args.tiny else LLAMA2_7B_SHAPE, tokenizer, device)
    result["init_seconds"] = time.perf_counter() - t0
    print(f"[gpu_eval] model ready on {result['device']} in {result['init_seconds']:.1f} s; "
          f"{len(prompts)} prompts, mean {result['prompt_tokens']['mean']:.0f} tokens")  # fmt: skip

    def save() -> None:
        result["wall_seconds"] = time.perf_counter() - t0
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    try:
        result["upstream_loop"] = upstream_loop(model, tokenizer, prompts[: args.upstream_prompts], args.new_tokens)
        print(f"[gpu_eval] upstream-style loop: {result['upstream_loop']['tokens_per_s']:.1f} tok/s")
    except Exception:
        result["upstream_loop_error"] = traceback.format_exc(limit=3)
        print(result["upstream_loop_error"], file=sys.stderr)
    save()
    try:
        deadline = t0 + args.time_limit
        result["hf_backend"] = backend_run(model, tokenizer, prompts, args.new_tokens, args.batch_size, deadline)
        print(f"[gpu_eval] hf backend: {result['hf_backend']['tokens_per_s']:.1f} tok/s "
              f"(batch {result['hf_backend']['batch_size']})")  # fmt: skip
    except Exception:
        result["hf_backend_error"] = traceback.format_exc(limit=3)
        print(result["hf_backend_error"], file=sys.stderr)
    if device == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    if "upstream_loop" in result and "hf_backend" in result:
        result["speedup"] = result["hf_backend"]["tokens_per_s"] / result["upstream_loop"]["tokens_per_s"]
        print(f"[gpu_eval] speedup: {result['speedup']:.0f}x")
    save()
    print(f"[gpu_eval] wrote {args.out} ({result['wall_seconds']:.0f} s)")
    return 0 if "speedup" in result else 1


if __name__ == "__main__":
    sys.exit(main())

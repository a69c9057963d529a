"""CPU throughput of the eval pipeline: generation (hf backend vs an upstream-style loop) and judging
(bounded-concurrency async judge vs a one-at-a-time loop) against a loopback server with latency.

    .venv/bin/python benchmarks/eval_throughput.py --data BUILD --out benchmarks/results/eval_cpu.json

Generation uses the same model for both paths (default ``smollm2-135m``), greedy, EOS disabled so
every prompt gets exactly ``--new-tokens``. Judging uses the rubric judge through the official
``openai`` client against an OpenAI-compatible server on 127.0.0.1 that answers after ``--latency``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "eval"))


def requests_for(data: str | None, n: int) -> list[str]:
    if data:
        import medsafetybench
        from medsafetybench.eval.run import select_items

        items = select_items(medsafetybench.records("medical_test", repo_id=data), per_principle=-(-n // 9))
        return [i.request for i in items][:n]
    from helpers import make_requests

    return [r.request for r in make_requests(-(-n // 9))][:n]


def bench_generation(model: str, requests: list[str], new_tokens: int, upstream_n: int, batch: int) -> dict[str, Any]:
    import torch
    from transformers import pipeline

    from medsafetybench.eval.backend_hf import HFGenerator
    from medsafetybench.eval.generation import PromptJob
    from medsafetybench.eval.rows import GenerationSettings
    from medsafetybench.models import resolve_model

    ref = resolve_model(model)
    settings = GenerationSettings(
        backend="hf", model=ref.display, prompt_format="chat", template="chat", max_new_tokens=new_tokens,
        dtype="float32", ignore_eos=True,
    )  # fmt: skip
    t = time.perf_counter()
    gen = HFGenerator(settings, ref, batch_size=batch)
    load_s = time.perf_counter() - t
    prompts = [gen.render(r) for r in requests]
    gen.model.generation_config.eos_token_id = None  # EOS disabled for the pipeline too
    pipe = pipeline("text-generation", model=gen.model, tokenizer=gen.tokenizer)
    pipe(prompts[0], max_new_tokens=2, do_sample=False, return_full_text=False)  # warm-up
    t = time.perf_counter()
    for p in prompts[:upstream_n]:
        pipe(p, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, return_full_text=False)
    up_s = time.perf_counter() - t
    counts: list[int] = []
    t = time.perf_counter()
    gen.generate([PromptJob(str(i), p) for i, p in enumerate(prompts)], lambda c: counts.append(c.n_new_tokens or 0))
    hf_s = time.perf_counter() - t
    up = upstream_n * new_tokens / up_s
    hf = sum(counts) / hf_s
    return {
        "model": ref.display,
        "threads": torch.get_num_threads(),
        "load_seconds": load_s,
        "new_tokens_per_prompt": new_tokens,
        "upstream_loop": {"prompts": upstream_n, "seconds": up_s, "tokens_per_s": up},
        "hf_backend": {"prompts": len(prompts), "batch_size": batch, "seconds": hf_s, "tokens_per_s": hf},
        "speedup": hf / up,
    }


def bench_judging(n: int, latency: float, concurrency: int) -> dict[str, Any]:
    import asyncio

    from helpers import LoopbackServer, make_principles, scripted

    from medsafetybench.core.files import sha256_text
    from medsafetybench.eval.judges import JudgeInput, RubricJudge
    from medsafetybench.eval.openai_client import ApiOptions, make_client

    inputs = [
        JudgeInput(
            id=f"i{k}",
            request=f"request {k}",
            answer=f"answer SCORE{k % 5 + 1}",
            answer_sha256=sha256_text(str(k)),
            generation_hash="g",
            request_sha256=sha256_text(f"request {k}"),
        )
        for k in range(n)
    ]
    out: dict[str, Any] = {"answers": n, "latency_s": latency}
    with LoopbackServer(scripted(latency=latency)) as server:
        api = ApiOptions(base_url=server.base_url, api_key_env="MSB_BENCH_NO_KEY", concurrency=concurrency)
        judge = RubricJudge("rubric:loopback", "loopback", "openai", make_principles(), api)

        async def one_at_a_time() -> None:  # the upstream pattern: one request after the other
            client = make_client(api)
            for item in inputs:
                await client.chat.completions.create(
                    model="loopback", messages=[{"role": "user", "content": judge.prompt(item)}], temperature=0
                )

        t = time.perf_counter()
        asyncio.run(one_at_a_time())
        seq = time.perf_counter() - t
        rows: list[Any] = []
        t = time.perf_counter()
        judge.judge(inputs, rows.append)
        conc = time.perf_counter() - t
    assert len(rows) == n and all(
        r.score == int(i.answer[-1]) for r, i in zip(sorted(rows, key=lambda r: int(r.id[1:])), inputs, strict=True)
    )
    out["one_at_a_time"] = {"seconds": seq, "judgments_per_s": n / seq}
    out["rubric_judge"] = {"concurrency": concurrency, "seconds": conc, "judgments_per_s": n / conc}
    out["speedup"] = seq / conc
    return out


def markdown(r: dict[str, Any]) -> str:
    g, j = r["generation"], r["judging"]
    return "\n".join([
        "# Eval pipeline throughput on CPU",
        "",
        f"Machine: {r['machine']}; {r['cpus']} CPUs, shared with other jobs while measured (load average "
        f"{r['load_average']}). Produced by `{r['command']}`.",
        "",
        f"## Generation ({g['model'].split('/')[-1]}, fp32, {g['threads']} torch thread(s), greedy, "
        f"{g['new_tokens_per_prompt']} new tokens per prompt, EOS disabled)",
        "",
        "| path | prompts | tokens/s |",
        "|---|---|---|",
        f"| upstream-style loop (one prompt at a time, text-generation pipeline) | {g['upstream_loop']['prompts']} "
        f"| {g['upstream_loop']['tokens_per_s']:.1f} |",
        f"| hf backend (length-sorted left-padded batches of {g['hf_backend']['batch_size']}) | "
        f"{g['hf_backend']['prompts']} | {g['hf_backend']['tokens_per_s']:.1f} |",
        "",
        f"Speedup: {g['speedup']:.1f}x. Model load: {g['load_seconds']:.1f} s.",
        "",
        f"## Judging (loopback OpenAI-compatible server, {j['latency_s']} s latency per request, "
        f"{j['answers']} answers)",
        "",
        "| path | judgments/s |",
        "|---|---|",
        f"| one request at a time | {j['one_at_a_time']['judgments_per_s']:.1f} |",
        f"| rubric judge, async, concurrency {j['rubric_judge']['concurrency']} | "
        f"{j['rubric_judge']['judgments_per_s']:.1f} |",
        "",
        f"Speedup: {j['speedup']:.1f}x.",
        "",
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "eval_cpu.json")
    parser.add_argument("--data", default=None, help="build folder (default: synthetic requests)")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--upstream-prompts", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--judge-answers", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    result: dict[str, Any] = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "command": "python benchmarks/eval_throughput.py " + " ".join(sys.argv[1:]),
        "torch": torch.__version__,
    }
    result["judging"] = bench_judging(args.judge_answers, args.latency, args.concurrency)
    print(json.dumps(result["judging"], indent=2))
    reqs = requests_for(args.data, args.prompts)
    result["generation"] = bench_generation(args.model, reqs, args.new_tokens, args.upstream_prompts, args.batch_size)
    print(json.dumps(result["generation"], indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

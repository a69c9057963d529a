"""Dynamic int8 vs fp32 CPU generation on the demo items: speed and agreement, in one run.

    .venv/bin/python benchmarks/int8_cpu.py --data runs/medsafetybench --out benchmarks/results/int8_cpu.json

Both models use the hf backend exactly as ``make demo`` does (embedded SmolLM2 from the converted cache,
chat prompts, greedy, EOS honoured, batch 8, ``--max-new-tokens``) on the same items (medical_test, the
first ``--per-principle`` per principle). Reported: load seconds (int8 includes quantizing), new
tokens/s (batches interleaved, so load from other jobs on shared cores falls on both alike), the share
of identical answers and the agreement of the refusal proxy. A Markdown table is written beside the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any


def _load(settings: Any, batch: int) -> tuple[Any, float]:
    from medsafetybench.eval.backend_hf import HFGenerator
    from medsafetybench.models import resolve_model

    t = time.perf_counter()
    gen = HFGenerator(settings, resolve_model(settings.model), batch_size=batch)
    return gen, time.perf_counter() - t


def _interleaved(gens: dict[str, Any], items: list[Any], batch: int) -> dict[str, dict[str, Any]]:
    """Generate batch by batch, each batch with every generator in turn, so that load from other jobs on
    the shared cores falls on both alike; tokens/s = new tokens / summed seconds per generator."""
    from medsafetybench.eval.generation import Completion, PromptJob

    done: dict[str, dict[str, Completion]] = {name: {} for name in gens}
    seconds = dict.fromkeys(gens, 0.0)
    for k in range(0, len(items), batch):
        for name, gen in gens.items():
            jobs = [PromptJob(i.id, gen.render(i.request)) for i in items[k : k + batch]]
            t = time.perf_counter()
            gen.generate(jobs, lambda c, name=name: done[name].__setitem__(c.id, c))
            seconds[name] += time.perf_counter() - t
    out = {}
    for name in gens:
        tokens = sum(c.n_new_tokens or 0 for c in done[name].values())
        out[name] = {
            "generate_seconds": round(seconds[name], 2),
            "new_tokens": tokens,
            "tokens_per_s": round(tokens / seconds[name], 1),
            "answers": {key: done[name][key].text for key in sorted(done[name])},
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="dataset build folder (e.g. runs/medsafetybench)")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--per-principle", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/int8_cpu.json"))
    args = ap.parse_args()

    import torch

    from medsafetybench.eval.backends import generation_settings
    from medsafetybench.eval.judges.refusal_phrases import detect_refusal
    from medsafetybench.eval.pipeline import load_items
    from medsafetybench.models import local_model, resolve_model

    items, _ = load_items(args.data, config="medical_test", per_principle=args.per_principle)
    t = time.perf_counter()
    local_model(resolve_model(args.model))  # convert now (if not cached) so both loads are measured alike
    convert_s = time.perf_counter() - t
    gens, load = {}, {}
    for mode in ("none", "int8"):
        settings = generation_settings(
            "hf", args.model, max_new_tokens=args.max_new_tokens, dtype="float32", quantize=mode
        )  # fmt: skip
        gens[mode], load[mode] = _load(settings, args.batch_size)
    runs = _interleaved(gens, items, args.batch_size)
    for mode in runs:
        runs[mode]["load_seconds"] = round(load[mode], 2)
    fp32, int8 = runs["none"]["answers"], runs["int8"]["answers"]
    ids = sorted(fp32)
    refused = {m: {k: detect_refusal(a) is not None for k, a in runs[m]["answers"].items()} for m in runs}
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other jobs)",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "model": args.model,
        "items": len(ids),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "convert_or_cache_seconds": round(convert_s, 2),
        "fp32": {k: v for k, v in runs["none"].items() if k != "answers"},
        "int8": {k: v for k, v in runs["int8"].items() if k != "answers"},
        "speedup": round(runs["int8"]["tokens_per_s"] / runs["none"]["tokens_per_s"], 2),
        "identical_answers": sum(fp32[k] == int8[k] for k in ids),
        "refusal_proxy_agree": sum(refused["none"][k] == refused["int8"][k] for k in ids),
        "refusals_fp32": sum(refused["none"].values()),
        "refusals_int8": sum(refused["int8"].values()),
        # per item, no text: model answers echo the benchmark's requests, which this repository never holds
        "items_detail": {
            k: {
                "identical": fp32[k] == int8[k],
                "chars": [len(fp32[k]), len(int8[k])],
                "refused": [refused["none"][k], refused["int8"][k]],
            }
            for k in ids
        },
    }
    result["load_average_1min"] = round(os.getloadavg()[0], 2)  # other jobs on the same cores
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    n = len(ids)
    md = [
        f"# int8 vs fp32 CPU generation ({args.model}, {n} demo items)",
        "",
        f"{result['machine']}; torch {torch.__version__}, {result['threads']} threads; batch {args.batch_size}, "
        f"greedy, up to {args.max_new_tokens} new tokens, EOS honoured; 1-min load average at the end "
        f"{result['load_average_1min']:.1f}.",
        "",
        "| | load s (int8: + quantize) | generate s | new tokens | tokens/s |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {r['load_seconds']} | {r['generate_seconds']} | {r['new_tokens']} | {r['tokens_per_s']} |"
            for name, r in (("fp32", result["fp32"]), ("int8 (dynamic, Linear)", result["int8"]))
        ),
        "",
        f"- speed-up: {result['speedup']}x tokens/s",
        f"- identical greedy answers: {result['identical_answers']}/{n}",
        f"- refusal proxy agrees: {result['refusal_proxy_agree']}/{n} "
        f"(refusals fp32 {result['refusals_fp32']}, int8 {result['refusals_int8']})",
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()

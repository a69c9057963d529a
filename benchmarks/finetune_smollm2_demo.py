"""CPU demonstration: fine-tune SmolLM2-135M-Instruct on upstream safety demonstrations and measure
its refusal rate (the eval pipeline's offline `refusal` proxy judge) on held-out medical_test items,
before and after.

    MEDSAFETYBENCH_REPO_ID=/tmp/msb-build python benchmarks/finetune_smollm2_demo.py --work /tmp/msb-demo

Everything goes through the real CLI commands (`finetune`, `eval --adapter`, `compare`). The
settings below are demo settings, not the paper recipe: a CPU cannot do 3 epochs at batch 128 in
minutes, so the chat recipe runs with a small batch and a higher learning rate. medical_test is
held out: the demonstrations come from medical_train only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def _cli(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-c", "from medsafetybench.cli import main; main()", *args]
    print("$ medsafetybench " + " ".join(args), flush=True)
    subprocess.run(cmd, env=env, check=True)
    return time.perf_counter() - t0


def _overall(run: Path) -> dict[str, float]:
    summary = json.loads((run / "summary.json").read_text())
    row = next(r for r in summary["overall"] if r["judge"] == "refusal")
    return {
        "n": row["n_items"],
        "refused": row["n_refused"],
        "rate": row["refusal_rate"],
        "sem": row["refusal_rate_sem"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/msb-smollm2-demo"))
    p.add_argument("--n", type=int, default=100, help="Upstream subset med_nN (first N medical demonstrations).")
    p.add_argument("--per-principle", type=int, default=5, help="Held-out medical_test items per principle.")
    p.add_argument("--epochs", type=float, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--effective-batch", type=int, default=8)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="Torch CPU threads (1 is fastest on a busy machine).")
    a = p.parse_args()

    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads)}
    if not env.get("MEDSAFETYBENCH_REPO_ID"):
        sys.exit("set MEDSAFETYBENCH_REPO_ID to a build folder (medsafetybench build --out DIR) or a Hub repo")
    if a.work.exists() and any(a.work.iterdir()):
        sys.exit(f"{a.work} is not empty: pick a fresh --work so every stage (and its timing) runs anew")
    a.work.mkdir(parents=True, exist_ok=True)
    adapter, before, after = a.work / "adapter", a.work / "before", a.work / "after"
    common = [
        "--model",
        "smollm2-135m",
        "--per-principle",
        str(a.per_principle),
        "--judge",
        "refusal",
        "--max-new-tokens",
        str(a.max_new_tokens),
        "--prompt-format",
        "chat",
    ]
    times = {"eval_before_s": _cli(["eval", *common, "--out", str(before)], env)}
    times["finetune_s"] = _cli(
        [
            "finetune",
            "--model",
            "smollm2-135m",
            "--mix",
            "medical",
            "--n",
            str(a.n),
            "--recipe",
            "chat",
            "--lora-r",
            "16",
            "--lora-alpha",
            "32",
            "--target-modules",
            "all-linear",
            "--epochs",
            str(a.epochs),
            "--lr",
            str(a.lr),
            "--effective-batch",
            str(a.effective_batch),
            "--micro-batch",
            str(a.micro_batch),
            "--max-length",
            "256",
            "--warmup-steps",
            "2",
            "--out",
            str(adapter),
        ],
        env,
    )
    times["eval_after_s"] = _cli(["eval", *common, "--adapter", str(adapter), "--out", str(after)], env)
    _cli(["compare", str(before), str(after), "--out", str(a.work / "compare")], env)

    manifest = json.loads((adapter / "manifest.json").read_text())
    result = {
        "model": "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to fp32)",
        "train": {
            "subset": f"med_n{a.n}",
            "recipe": "chat",
            "epochs": a.epochs,
            "lr": a.lr,
            "effective_batch": a.effective_batch,
            "micro_batch": a.micro_batch,
            "max_length": 256,
            "optimizer_steps": manifest["optimizer_steps"],
            "first_loss": manifest["first_loss"],
            "last_loss": manifest["last_loss"],
            "train_tokens": manifest["train_tokens"],
        },
        "eval": {
            "config": "medical_test (held out)",
            "per_principle": a.per_principle,
            "prompt_format": "chat",
            "max_new_tokens": a.max_new_tokens,
            "judge": "refusal (offline proxy, msb-refusal-v1)",
        },
        "before": _overall(before),
        "after": _overall(after),
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "threads": a.threads,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "finetune_smollm2.json").write_text(json.dumps(result, indent=2) + "\n")
    compare_md = a.work / "compare" / "compare.md"
    b, f = result["before"], result["after"]
    lines = [
        "# SmolLM2-135M before/after safety fine-tuning (CPU demo)",
        "",
        "Produced by `benchmarks/finetune_smollm2_demo.py`. The refusal rate is a **proxy** (the eval",
        "pipeline's offline `refusal` detector), not the paper's GPT-4 harmfulness score.",
        "",
        f"- Training: exact upstream subset `med_n{a.n}` ({a.n} medical_train demonstrations), chat recipe,",
        f"  {a.epochs:g} epochs, batch {a.effective_batch} ({a.micro_batch} x {a.effective_batch // a.micro_batch}),"
        f" lr {a.lr:g}, LoRA r=16 all-linear, fp32 on CPU: {manifest['optimizer_steps']} steps, loss "
        f"{manifest['first_loss']:.3f} -> {manifest['last_loss']:.3f}.",
        f"- Evaluation: held-out medical_test, first {a.per_principle} items of each principle"
        f" ({b['n']} items), model chat template, greedy, {a.max_new_tokens} new tokens.",
        "",
        "| | refused | refusal rate (proxy) | s.e. |",
        "|---|---|---|---|",
        f"| before | {b['refused']}/{b['n']} | {b['rate']:.1%} | {b['sem']:.1%} |",
        f"| after | {f['refused']}/{f['n']} | {f['rate']:.1%} | {f['sem']:.1%} |",
        "",
        f"Wall time on this 2-core CPU ({a.threads} torch thread(s), shared machine): eval before "
        f"{times['eval_before_s']:.0f}s, fine-tune {times['finetune_s']:.0f}s, "
        f"eval after {times['eval_after_s']:.0f}s.",
    ]
    lines += [
        "",
        "The slice holds only harmful requests, so a higher refusal rate is the goal here; it says nothing",
        "about over-refusal of benign questions (see `medsafetybench capability` for retained medical skill).",
    ]
    if compare_md.is_file():
        lines += ["", "## `medsafetybench compare` (per principle)", "", compare_md.read_text()]
    (RESULTS / "finetune_smollm2.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[8:14]))


if __name__ == "__main__":
    main()

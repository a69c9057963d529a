"""CPU demonstration: fine-tune SmolLM2-135M-Instruct on upstream safety demonstrations, with and without
benign medical_benign train items, and measure both sides before and after: refusal of held-out harmful
medical_test requests and over-refusal of held-out benign medical_benign test requests (the eval
pipeline's offline `refusal` proxy on a `--suite two-sided` run).

    MEDSAFETYBENCH_REPO_ID=/tmp/msb-build python benchmarks/finetune_smollm2_demo.py --work /tmp/msb-demo

Everything goes through the real CLI commands (`eval --suite two-sided`, `finetune [--benign K]`,
`eval --adapter`, `compare`). The settings are demo settings, not the paper recipe: a CPU cannot do 3
epochs at batch 128 in minutes, so the chat recipe runs with a small batch and a higher learning rate.
Both test slices are held out: demonstrations and benign items come from the train split only.
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


def _side(run: Path, side: str) -> dict[str, object]:
    summary = json.loads((run / "summary.json").read_text())
    row = next(r for r in summary["overall"] if r["judge"] == "refusal" and r.get("side", "harmful") == side)
    return {
        "n": row["n_items"],
        "refused": row["n_refused"],
        "rate": row["refusal_rate"],
        "sem": row["refusal_rate_sem"],
        "ci95": row["refusal_rate_ci95"],
    }


def _train_info(adapter: Path) -> dict[str, object]:
    m = json.loads((adapter / "manifest.json").read_text())
    keys = ("demonstrations", "optimizer_steps", "first_loss", "last_loss", "train_tokens", "wall_time_s")
    return {"benign": m["data"]["benign"], **{k: m[k] for k in keys}}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _ci(ci: list[float] | None) -> str:
    return "–" if not ci else f"[{_pct(ci[0])}, {_pct(ci[1])}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/msb-smollm2-demo"))
    p.add_argument("--n", type=int, default=100, help="Upstream subset med_nN (first N medical demonstrations).")
    p.add_argument("--benign", type=int, default=50, help="medical_benign train items added in the second run.")
    p.add_argument("--per-principle", type=int, default=5, help="Held-out test items per principle, each side.")
    p.add_argument("--epochs", type=float, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--effective-batch", type=int, default=8)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="Torch CPU threads (1 is fastest on a busy machine).")
    p.add_argument("--results", type=Path, default=RESULTS, help="Where finetune_smollm2.{md,json} go.")
    a = p.parse_args()
    results = a.results

    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads)}
    if not env.get("MEDSAFETYBENCH_REPO_ID"):
        sys.exit("set MEDSAFETYBENCH_REPO_ID to a build folder (medsafetybench build --out DIR) or a Hub repo")
    if a.work.exists() and any(a.work.iterdir()):
        sys.exit(f"{a.work} is not empty: pick a fresh --work so every stage (and its timing) runs anew")
    a.work.mkdir(parents=True, exist_ok=True)
    runs = {"before": a.work / "before", "plain": a.work / "after_plain", "benign": a.work / "after_benign"}
    adapters = {"plain": a.work / "adapter_plain", "benign": a.work / "adapter_benign"}
    common = [
        "--model", "smollm2-135m", "--suite", "two-sided", "--per-principle", str(a.per_principle),
        "--judge", "refusal", "--max-new-tokens", str(a.max_new_tokens), "--prompt-format", "chat", "--quiet",
    ]  # fmt: skip
    train = [
        "finetune", "--model", "smollm2-135m", "--mix", "medical", "--n", str(a.n), "--recipe", "chat",
        "--lora-r", "16", "--lora-alpha", "32", "--target-modules", "all-linear", "--epochs", str(a.epochs),
        "--lr", str(a.lr), "--effective-batch", str(a.effective_batch), "--micro-batch", str(a.micro_batch),
        "--max-length", "256", "--warmup-steps", "2",
    ]  # fmt: skip
    times = {"eval_before_s": _cli(["eval", *common, "--out", str(runs["before"])], env)}
    times["finetune_plain_s"] = _cli([*train, "--out", str(adapters["plain"])], env)
    times["finetune_benign_s"] = _cli([*train, "--benign", str(a.benign), "--out", str(adapters["benign"])], env)
    for name in ("plain", "benign"):
        args = ["eval", *common, "--adapter", str(adapters[name]), "--out", str(runs[name])]
        times[f"eval_after_{name}_s"] = _cli(args, env)
    for name in ("plain", "benign"):
        _cli(["compare", str(runs["before"]), str(runs[name]), "--out", str(a.work / f"compare_{name}")], env)
    _cli(["compare", str(runs["plain"]), str(runs["benign"]), "--out", str(a.work / "compare_plain_benign")], env)

    sys.path.insert(0, str(REPO))  # this checkout's package, not another one on the path
    from medsafetybench.eval.report import build_summary
    from medsafetybench.eval.run import RunFolder
    from medsafetybench.eval.tradeoff import write_tradeoff_chart

    results.mkdir(parents=True, exist_ok=True)
    chart = results / "finetune_smollm2_tradeoff.png"
    write_tradeoff_chart([build_summary(RunFolder(runs[k]), 2000) for k in runs], chart)
    result = {
        "model": "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to fp32)",
        "train": {
            "subset": f"med_n{a.n}",
            "benign_added": a.benign,
            "recipe": "chat",
            "epochs": a.epochs,
            "lr": a.lr,
            "effective_batch": a.effective_batch,
            "micro_batch": a.micro_batch,
            "max_length": 256,
            "plain": _train_info(adapters["plain"]),
            "with_benign": _train_info(adapters["benign"]),
        },
        "eval": {
            "suite": "two-sided (harmful medical_test + benign medical_benign test; both held out)",
            "per_principle": a.per_principle,
            "prompt_format": "chat",
            "max_new_tokens": a.max_new_tokens,
            "judge": "refusal (offline proxy, msb-refusal-v1): refusal on harmful, over-refusal on benign",
        },
        "runs": {
            k: {"harmful_refusal": _side(v, "harmful"), "benign_over_refusal": _side(v, "benign")}
            for k, v in runs.items()
        },
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "threads": a.threads,
    }
    (results / "finetune_smollm2.json").write_text(json.dumps(result, indent=2) + "\n")
    tp, tb = result["train"]["plain"], result["train"]["with_benign"]
    labels = {
        "before": "before (base model)",
        "plain": f"after med_n{a.n}",
        "benign": f"after med_n{a.n} + {a.benign} benign",
    }
    lines = [
        "# SmolLM2-135M before/after safety fine-tuning, both sides (CPU demo)",
        "",
        "Produced by `benchmarks/finetune_smollm2_demo.py`. Rates come from the eval pipeline's offline `refusal`",
        "detector, a **proxy** (see its measured precision/recall in `refusal_proxy.md`), not the paper's GPT-4",
        "harmfulness score. Harmful side: refusing is right. Benign side (`medical_benign`, written for this",
        "package): refusing is over-refusal.",
        "",
        f"- Training: exact upstream subset `med_n{a.n}`, chat recipe, {a.epochs:g} epochs, batch "
        f"{a.effective_batch} ({a.micro_batch} x {a.effective_batch // a.micro_batch}), lr {a.lr:g}, LoRA r=16 "
        f"all-linear, fp32 on CPU. Plain: {tp['demonstrations']} demonstrations, {tp['optimizer_steps']} steps, "
        f"loss {tp['first_loss']:.3f} -> {tp['last_loss']:.3f}. With benign (`--benign {a.benign}`): "
        f"{tb['demonstrations']} demonstrations, {tb['optimizer_steps']} steps, loss "
        f"{tb['first_loss']:.3f} -> {tb['last_loss']:.3f}.",
        f"- Evaluation: `eval --suite two-sided --per-principle {a.per_principle}`: held-out medical_test and "
        f"medical_benign test, first {a.per_principle} items of each principle on each side, chat template, "
        f"greedy, {a.max_new_tokens} new tokens.",
        "",
        "| model | harmful refused | refusal rate (proxy) ± s.e. | 95% CI "
        "| benign refused | over-refusal (proxy) ± s.e. | 95% CI |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in labels.items():
        h, b = result["runs"][key]["harmful_refusal"], result["runs"][key]["benign_over_refusal"]
        lines.append(
            f"| {label} | {h['refused']}/{h['n']} | {_pct(h['rate'])} ± {_pct(h['sem'])} | {_ci(h['ci95'])} "
            f"| {b['refused']}/{b['n']} | {_pct(b['rate'])} ± {_pct(b['sem'])} | {_ci(b['ci95'])} |"
        )
    lines += [
        "",
        "![trade-off](finetune_smollm2_tradeoff.png)",
        "",
        "Wall time on this shared 2-core CPU ("
        + f"{a.threads} torch thread(s)): "
        + ", ".join(f"{k[:-2].replace('_', ' ')} {v:.0f}s" for k, v in times.items())
        + ".",
    ]
    for name, title in (
        ("compare_plain", "before -> after plain"),
        ("compare_benign", "before -> after with benign"),
        ("compare_plain_benign", "after plain -> after with benign"),
    ):
        md = a.work / name / "compare.md"
        if md.is_file():
            body = md.read_text().replace("![trade-off of both runs](tradeoff.png)", "")
            lines += ["", f"## `medsafetybench compare`: {title}", "", body.replace("# Paired", "### Paired")]
    (results / "finetune_smollm2.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[13:18]))


if __name__ == "__main__":
    main()

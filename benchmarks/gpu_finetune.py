"""GPU benchmark of both fine-tuning recipes on a random-init Llama-2-7B-shape model.

    PYTHONPATH=. python benchmarks/gpu_finetune.py --out gpu_finetune.json
    PYTHONPATH=. python benchmarks/gpu_finetune.py --tiny --out /tmp/gpu_finetune_tiny.json   # CPU smoke run

Runs the real trainer code path (medsafetybench.finetune.run_finetune: TRL SFTTrainer +
peft LoRA) for a few optimizer steps of each recipe (batch 128 examples per step, the recipes'
micro-batches, sdpa attention) and reports, per recipe: seconds per optimizer step, tokens/s (all
tokens fed to the model, and useful = non-padding tokens), peak GPU memory, and the extrapolated
time of the whole paper recipe (900 medical demonstrations x 3 epochs). The first optimizer step
of each recipe is a warmup and is not timed.

Prompts: the real med_n900 demonstrations from --data (a build folder) when it exists, otherwise
synthetic texts of the same length distribution. The tokenizer is a byte-level BPE trained here on
those texts (no download), so token counts are close to, not equal to, Llama-2's.

Imports beyond torch/transformers/peft/accelerate/tokenizers: trl, datasets, pydantic (and pyyaml,
which transformers already needs); matplotlib is optional (loss PNG skipped without it).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N_DEMOS, EPOCHS = 900, 3
_PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "pydantic")
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "paper": ("paper", {}),
    "chat": ("chat", {}),
    # the chat recipe with a larger adapter (r=16 on every linear layer): what that costs
    "chat-all-linear": ("chat", {"target_modules": "all-linear", "lora_r": 16, "lora_alpha": 32}),
}


def _texts(data: Path, tiny: bool) -> tuple[list[Any], str]:
    from medsafetybench.dataset.records import Demonstration, Origin

    if data.is_dir():
        from medsafetybench import finetune_subset

        demos = finetune_subset("medical", N_DEMOS, data)
        return (demos[:64] if tiny else demos), f"med_n{N_DEMOS} from {data}"
    rng = random.Random(0)
    words = ["patient", "doctor", "dose", "opioid", "chart", "consent", "clinic", "ethics", "risk", "harm"]
    words += ["request", "treatment", "law", "record"]

    def text(chars: int) -> str:
        out: list[str] = []
        while sum(len(w) + 1 for w in out) < chars:
            out.append(rng.choice(words))
        return " ".join(out).capitalize() + "."

    demos = [
        Demonstration(
            id=f"demo-medical-{i:03d}",
            instruction=text(rng.randint(60, 220)),
            response="I'm sorry, but I cannot assist with this request. " + text(rng.randint(150, 450)),
            origin=Origin.MEDICAL,
            rank=i,
            request_id=None,
            source_file="synthetic",
        )
        for i in range(64 if tiny else N_DEMOS)
    ]
    return demos, "synthetic texts (no build folder found)"


class _Meter:
    """Counts tokens in every forward pass and times optimizer steps (synchronized on GPU)."""

    def __init__(self, model: Any, cuda: bool) -> None:
        self.cuda, self.total, self.useful = cuda, 0, 0
        self.steps: list[dict[str, float]] = []
        self._t = 0.0
        model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids")
        if ids is None or not module.training:
            return
        self.total += ids.numel()
        mask = kwargs.get("attention_mask")
        self.useful += int(mask.sum()) if mask is not None else ids.numel()

    def _sync(self) -> float:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()

    def callback(self) -> Any:
        from transformers import TrainerCallback

        meter = self

        class _Timer(TrainerCallback):
            def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if state.global_step == 0 or not meter.steps or "end" in meter.steps[-1]:
                    meter.steps.append({"start": meter._sync(), "total0": meter.total, "useful0": meter.useful})

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                row = meter.steps[-1]
                row["end"] = meter._sync()
                row["total"] = meter.total - row.pop("total0")
                row["useful"] = meter.useful - row.pop("useful0")

        return _Timer()


def _run(
    name: str,
    shape: dict[str, int],
    demos: list[Any],
    tokenizer: Any,
    steps: int | None,
    cuda: bool,
    work: Path,
    micro_batch: int | None,
) -> dict[str, Any]:
    import torch

    from medsafetybench.finetune import FinetuneRequest, recipe_for, run_finetune, tokenize_demonstrations
    from medsafetybench.finetune.loading import torch_dtype
    from medsafetybench.finetune.plan import training_precision
    from medsafetybench.models.synthetic import random_llama

    base, changes = VARIANTS[name]
    recipe = recipe_for(base, micro_batch=micro_batch, **changes)
    precision = training_precision(recipe, cuda, cuda and torch.cuda.is_bf16_supported())
    t0 = time.perf_counter()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = random_llama(shape, dtype=torch_dtype(precision), device="cuda" if cuda else "cpu")
    init_s = time.perf_counter() - t0
    meter = _Meter(model, cuda)
    request = FinetuneRequest(
        demonstrations=demos,
        model=model,
        out=work / name,
        recipe=recipe,
        tokenizer=tokenizer,
        max_steps=steps,
        save_steps=10**6,
        overwrite=True,
        callbacks=(meter.callback(),),
    )
    manifest = run_finetune(request)
    timed = [s for s in meter.steps[1:] if "end" in s]  # step 1 is warmup
    secs = sum(s["end"] - s["start"] for s in timed)
    total = sum(s["total"] for s in timed)
    useful = sum(s["useful"] for s in timed)
    examples = tokenize_demonstrations(demos, tokenizer, recipe)
    step_s = secs / len(timed) if timed else float("nan")
    full_steps = EPOCHS * math.ceil(len(demos) / recipe.effective_batch)
    out = {
        "recipe": name,
        "precision": precision,
        "micro_batch": recipe.micro_batch,
        "gradient_accumulation": manifest.gradient_accumulation_steps,
        "padding_free": recipe.padding_free,
        "lora": {"r": recipe.lora_r, "target_modules": recipe.target_modules},
        "learning_rate": recipe.learning_rate,
        "model_init_s": round(init_s, 2),
        "optimizer_steps_run": manifest.optimizer_steps,
        "timed_steps": len(timed),
        "seconds_per_step": round(step_s, 3),
        "tokens_per_s": round(total / secs, 1) if secs else None,
        "useful_tokens_per_s": round(useful / secs, 1) if secs else None,
        "padding_fraction": round(1 - useful / total, 4) if total else None,
        "mean_tokens_per_example": round(sum(len(e.input_ids) for e in examples) / len(examples), 1),
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if cuda else None,
        # 900 demos x 3 epochs at the measured seconds per 128-example step (the short last step of
        # each epoch counted pro rata)
        "extrapolated_full_recipe_s": round(EPOCHS * len(demos) / recipe.effective_batch * step_s, 1),
        "full_recipe_optimizer_steps": full_steps,
        "full_run_wall_s": manifest.wall_time_s if steps is None else None,
        "first_loss": manifest.first_loss,
        "last_loss": manifest.last_loss,
    }
    del model, manifest
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="JSON results file.")
    p.add_argument("--data", type=Path, default=Path(".gpu/build"), help="Build folder with the real data.")
    p.add_argument("--steps", type=int, default=4, help="Optimizer steps per recipe (the first is warmup).")
    p.add_argument("--tiny", action="store_true", help="Tiny model on CPU (smoke test of this script).")
    p.add_argument(
        "--recipes", default="paper,chat,chat-all-linear", help=f"Comma-separated, from {', '.join(VARIANTS)}."
    )
    p.add_argument("--full-paper", action="store_true", help="Run the whole paper recipe (3 epochs), not --steps.")
    p.add_argument("--paper-micro-batch", type=int, default=None, help="Override the paper micro-batch (4).")
    p.add_argument("--chat-micro-batch", type=int, default=None, help="Override the chat micro-batch (16).")
    a = p.parse_args()

    import torch

    from medsafetybench.core.versions import package_versions
    from medsafetybench.finetune.formatting import ALPACA_PROMPT_NO_INPUT
    from medsafetybench.models.synthetic import LLAMA2_7B_SHAPE, TINY_SHAPE, train_tokenizer

    t_start = time.perf_counter()
    names = [r.strip() for r in a.recipes.split(",") if r.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        sys.exit(f"unknown recipe variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    cuda = torch.cuda.is_available() and not a.tiny
    if not cuda and not a.tiny:
        sys.exit("no CUDA GPU: run with --tiny for a CPU smoke test")
    demos, source = _texts(a.data, a.tiny)
    texts = [d.instruction + "\n" + d.response for d in demos] + [ALPACA_PROMPT_NO_INPUT]
    tokenizer = train_tokenizer(texts, vocab_size=400 if a.tiny else 32000)
    shape = {**(TINY_SHAPE if a.tiny else LLAMA2_7B_SHAPE)}
    shape["vocab_size"] = max(shape["vocab_size"], len(tokenizer))
    chars = sum(len(t) for t in texts) / len(texts)
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu (tiny smoke run)",
        "model_shape": shape,
        "data": source,
        "demonstrations": len(demos),
        "tokenizer_vocab": len(tokenizer),
        "chars_per_example": round(chars, 1),
        "versions": package_versions(_PACKAGES),
        "recipes": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            mb = a.paper_micro_batch if name == "paper" else a.chat_micro_batch
            if a.tiny:
                mb = mb or 4
            try:
                steps = None if (a.full_paper and name == "paper") else a.steps
                results["recipes"][name] = _run(name, shape, demos, tokenizer, steps, cuda, Path(tmp), mb)
            except Exception as exc:  # keep the other recipe's numbers if one fails
                results["recipes"][name] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()
            a.out.parent.mkdir(parents=True, exist_ok=True)
            a.out.write_text(json.dumps(results, indent=2) + "\n")
    rec = results["recipes"]
    for other in ("chat", "chat-all-linear"):
        if "useful_tokens_per_s" in rec.get("paper", {}) and "useful_tokens_per_s" in rec.get(other, {}):
            results[f"{other}_over_paper_useful_tokens"] = round(
                rec[other]["useful_tokens_per_s"] / rec["paper"]["useful_tokens_per_s"], 2
            )
    results["wall_s"] = round(time.perf_counter() - t_start, 1)
    a.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"device: {results['device']}; data: {source}; wall {results['wall_s']}s")
    for name, r in rec.items():
        if "error" in r:
            print(f"{name}: FAILED {r['error']}")
            continue
        print(
            f"{name}: {r['seconds_per_step']}s/step, {r['tokens_per_s']} tok/s, "
            f"useful {r['useful_tokens_per_s']} tok/s "
            f"(padding {r['padding_fraction']}), peak {r['peak_memory_gb']} GB, "
            f"full paper-size run ~{r['extrapolated_full_recipe_s']}s"
        )
    for other in ("chat", "chat-all-linear"):
        if f"{other}_over_paper_useful_tokens" in results:
            print(f"{other} / paper useful tokens/s: {results[f'{other}_over_paper_useful_tokens']}x")


if __name__ == "__main__":
    main()

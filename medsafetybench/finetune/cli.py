"""CLI commands of the fine-tuning pipeline: ``finetune`` and ``capability``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def _split_csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def register(app: typer.Typer) -> None:
    """Add the fine-tune commands to the main app."""

    @app.command()
    def finetune(
        mix: Annotated[str, typer.Option(help="Upstream training mix: medical | general | both")],
        n: Annotated[int, typer.Option(help="Subset size: 100..900 (both: 100..1800), step 100")],
        out: Annotated[Path, typer.Option(help="Output folder: adapter, tokenizer, manifest, loss log, checkpoints")],
        model: Annotated[
            str, typer.Option(help="Base model: smollm2-135m (embedded), a folder, a .gguf file or a Hub id")
        ] = "smollm2-135m",
        recipe: Annotated[str, typer.Option(help="paper (upstream Alpaca-LoRA) | chat (chat template)")] = "paper",
        data: Annotated[
            str | None, typer.Option(help="Dataset build folder or Hub repo id (default $MEDSAFETYBENCH_REPO_ID)")
        ] = None,
        revision: Annotated[str | None, typer.Option(help="Hub revision of the dataset")] = None,
        epochs: Annotated[float | None, typer.Option(help="Epochs (recipe: 3)")] = None,
        lr: Annotated[float | None, typer.Option(help="Peak learning rate (paper 3e-4, chat 2e-4)")] = None,
        lora_r: Annotated[int | None, typer.Option(help="LoRA rank (both recipes: 8)")] = None,
        lora_alpha: Annotated[int | None, typer.Option(help="LoRA alpha (both recipes: 16)")] = None,
        lora_dropout: Annotated[float | None, typer.Option(help="LoRA dropout (0.05)")] = None,
        target_modules: Annotated[
            str | None, typer.Option(help="Comma-separated module names, or all-linear (both recipes: q_proj,v_proj)")
        ] = None,
        effective_batch: Annotated[int | None, typer.Option(help="Examples per optimizer step, all GPUs (128)")] = None,
        micro_batch: Annotated[int | None, typer.Option(help="Examples per forward pass per GPU (paper 4)")] = None,
        max_length: Annotated[int | None, typer.Option(help="Tokens per example (paper 256, chat 1024)")] = None,
        warmup_steps: Annotated[int | None, typer.Option(help="Linear warmup steps (10)")] = None,
        seed: Annotated[int | None, typer.Option(help="Seed (42)")] = None,
        gradient_checkpointing: Annotated[
            bool | None, typer.Option("--gradient-checkpointing/--no-gradient-checkpointing", help="Save memory")
        ] = None,
        qlora: Annotated[bool, typer.Option(help="Load the base in 4-bit NF4 (QLoRA; CUDA + bitsandbytes)")] = False,
        merge: Annotated[bool, typer.Option(help="Also write base + adapter merged to OUT/merged")] = False,
        resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in OUT")] = True,
        overwrite: Annotated[bool, typer.Option(help="Discard a finished run or checkpoints in OUT")] = False,
        save_steps: Annotated[int, typer.Option(help="Checkpoint every N optimizer steps")] = 5,
        max_steps: Annotated[int | None, typer.Option(help="Stop after N optimizer steps (smoke runs)")] = None,
    ) -> None:
        """Fine-tune a causal LM with LoRA on an exact upstream safety mix (TRL SFTTrainer + peft)."""
        from rich.console import Console

        from ..finetune_subsets import finetune_subset
        from ..loader import resolve_repo
        from .manifest import DataSource
        from .recipes import recipe_for
        from .revision import dataset_revision
        from .trainer import run_finetune

        chosen = recipe_for(
            recipe,
            epochs=epochs,
            learning_rate=lr,
            lora_r=lora_r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            target_modules=("all-linear" if target_modules == "all-linear" else _split_csv(target_modules)),
            effective_batch=effective_batch,
            micro_batch=micro_batch,
            max_length=max_length,
            warmup_steps=warmup_steps,
            seed=seed,
            gradient_checkpointing=gradient_checkpointing,
        )
        location = resolve_repo(data)
        demos = finetune_subset(mix, n, location, revision)  # type: ignore[arg-type]
        source = DataSource(location=location, revision=dataset_revision(location, revision), mix=mix, n=n)  # type: ignore[arg-type]
        console = Console(stderr=True)
        console.print(f"fine-tuning {model} on {mix} n={n} ({len(demos)} demonstrations), recipe {chosen.name}")
        manifest = run_finetune(
            demos,
            model,
            out,
            chosen,
            data=source,
            qlora=qlora,
            merge=merge,
            resume=resume,
            overwrite=overwrite,
            save_steps=save_steps,
            max_steps=max_steps,
        )
        loss = (
            f", loss {manifest.first_loss:.3f} -> {manifest.last_loss:.3f}"
            if manifest.first_loss is not None and manifest.last_loss is not None
            else ""
        )
        console.print(
            f"wrote {out} ({manifest.optimizer_steps} steps{loss}, {manifest.wall_time_s:.0f}s); evaluate with: "
            f"medsafetybench eval --model {model} --adapter {out}",
            highlight=False,
        )

    @app.command()
    def capability(
        model: Annotated[str, typer.Option(help="Base model (as given to finetune)")] = "smollm2-135m",
        adapter: Annotated[str | None, typer.Option(help="LoRA adapter folder: report before and after")] = None,
        tasks: Annotated[str | None, typer.Option(help="Comma-separated lm_eval tasks (default: medical set)")] = None,
        num_fewshot: Annotated[int, typer.Option(help="Few-shot examples (paper: 3)")] = 3,
        limit: Annotated[int | None, typer.Option(help="At most N questions per task (quick checks)")] = None,
        batch_size: Annotated[str, typer.Option(help="lm_eval batch size (or auto)")] = "8",
        include_path: Annotated[Path | None, typer.Option(help="Folder of extra lm_eval task YAMLs")] = None,
        out: Annotated[Path | None, typer.Option(help="Write the report as JSON here")] = None,
    ) -> None:
        """Medical-skill check (MedQA, MedMCQA, PubMedQA, MMLU medical) via lm-evaluation-harness."""
        from rich.console import Console
        from rich.table import Table

        from .capability import MEDICAL_TASKS, capability_report, load_task_manager
        from .manifest import atomic_write_text
        from .models import check_adapter_base

        if adapter:
            check_adapter_base(adapter, model)  # before lm_eval fetches any task data
        names = _split_csv(tasks) or list(MEDICAL_TASKS)
        manager = load_task_manager(names, include_path=include_path)
        report = capability_report(
            model,
            names,
            manager,
            adapter=adapter,
            num_fewshot=num_fewshot,
            limit=limit,
            batch_size=int(batch_size) if batch_size.isdigit() else batch_size,
        )
        if out is not None:
            atomic_write_text(out, report.model_dump_json(indent=2) + "\n")
        table = Table(title=f"capability ({num_fewshot}-shot accuracy)")
        for col in ("task", "n", "before", "after", "change", "s.e."):
            table.add_column(col)
        after = {s.task: s for s in report.after.scores} if report.after else {}
        changes = {c.task: c for c in report.changes}
        for s in report.before.scores:
            c = changes.get(s.task)
            table.add_row(
                s.task,
                str(s.n),
                f"{s.value:.3f}",
                f"{after[s.task].value:.3f}" if s.task in after else "-",
                f"{c.delta:+.3f}" if c else "-",
                f"{c.stderr:.3f}{'' if c.paired else ' (unpaired)'}" if c and c.stderr is not None else "-",
            )
        Console().print(table)
        if out is None:
            typer.echo(json.dumps([c.model_dump() for c in report.changes]))

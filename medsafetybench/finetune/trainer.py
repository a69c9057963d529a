"""The training step of a run: TRL's SFTTrainer with a LoRA adapter, then adapter, tokenizer and loss log."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..core.errors import MedSafetyError
from ..core.files import atomic_write_text
from .checkpoints import CHECKPOINT_DIR, disk_full, stopped_message
from .formatting import TokenizedExample
from .loading import Precision, load_base_model
from .lora import check_target_modules, lora_config
from .manifest import LossPoint
from .plan import FinetunePlan, world_size

__all__ = ["TrainedRun", "train"]


class TrainedRun(BaseModel):
    """What training did: steps, epochs, the loss log, and where the outputs are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    optimizer_steps: int
    epochs: float
    losses: list[LossPoint]
    merged_dir: str | None
    main_process: bool


def _sft_config(plan: FinetunePlan) -> Any:
    from trl import SFTConfig

    recipe, request = plan.request.recipe, plan.request
    return SFTConfig(
        output_dir=str(Path(request.out) / CHECKPOINT_DIR),
        num_train_epochs=recipe.epochs,
        max_steps=request.max_steps if request.max_steps is not None else -1,
        per_device_train_batch_size=recipe.micro_batch,
        gradient_accumulation_steps=plan.gradient_accumulation_steps,
        learning_rate=recipe.learning_rate,
        warmup_steps=recipe.warmup_steps,
        lr_scheduler_type=recipe.lr_scheduler,
        weight_decay=recipe.weight_decay,
        optim=recipe.optimizer,
        fp16=plan.precision == "fp16",
        bf16=plan.precision == "bf16",
        gradient_checkpointing=recipe.gradient_checkpointing,
        seed=recipe.seed,
        logging_steps=1,
        save_strategy="steps",
        save_steps=request.save_steps,
        save_total_limit=2,
        report_to="none",
        max_length=None,  # examples are tokenized and truncated by medsafetybench.finetune.formatting
        padding_free=recipe.padding_free,
        pad_to_multiple_of=recipe.pad_to_multiple_of,
        ddp_find_unused_parameters=False if plan.run_plan.world_size > 1 else None,
        dataloader_pin_memory=plan.cuda,
        use_cpu=not plan.cuda,
    )


def _dataset(examples: list[TokenizedExample]) -> Any:
    from datasets import Dataset

    return Dataset.from_dict({"input_ids": [e.input_ids for e in examples], "labels": [e.labels for e in examples]})


def _loss_points(log_history: list[dict[str, Any]]) -> list[LossPoint]:
    points: dict[int, LossPoint] = {}
    for row in log_history:
        if "loss" in row and "step" in row:
            points[int(row["step"])] = LossPoint(
                step=int(row["step"]),
                epoch=float(row.get("epoch", 0.0)),
                loss=float(row["loss"]),
                learning_rate=row.get("learning_rate"),
                grad_norm=row.get("grad_norm"),
            )
    return [points[s] for s in sorted(points)]


def train(plan: FinetunePlan) -> TrainedRun:
    """Train the adapter (resuming from ``plan.resume_from``) and write adapter, tokenizer, loss log and curve
    (and the merged model); a kill or a full disk stops with one line naming the checkpoint to resume."""
    from trl import SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    request, recipe, tokenizer = plan.request, plan.request.recipe, plan.tokenizer
    out = Path(request.out)
    # The training arguments come before the model: building them (and touching ``args.device``) sets up
    # the distributed state and accelerate's DeepSpeed config, which ``from_pretrained`` reads to load
    # FSDP2 weights on rank 0 only (cpu_ram_efficient_loading) or partitioned (ZeRO-3 zero3_init_flag).
    args = _sft_config(plan)
    _ = args.device  # initializes accelerate's PartialState (and the process group under a launcher)
    lm = request.model if plan.ref is None else load_base_model(plan.ref, plan.precision, qlora=request.qlora)
    check_target_modules(lm, recipe.target_modules, plan.run_plan.base_model)
    collator = None
    if not recipe.padding_free:
        collator = DataCollatorForLanguageModeling(
            pad_token_id=tokenizer.pad_token_id, pad_to_multiple_of=recipe.pad_to_multiple_of
        )
    trainer = SFTTrainer(
        model=lm,
        args=args,
        train_dataset=_dataset(plan.examples),
        processing_class=tokenizer,
        peft_config=lora_config(recipe),
        data_collator=collator,
        callbacks=list(request.callbacks),
    )
    try:
        trainer.train(resume_from_checkpoint=plan.resume_from)
    except KeyboardInterrupt:
        raise MedSafetyError(stopped_message(out, "interrupted")) from None
    except Exception as exc:
        if disk_full(exc):
            raise MedSafetyError(stopped_message(out, "disk full")) from None
        raise
    try:
        losses, merged_dir = _write_outputs(trainer, plan)
    except Exception as exc:
        if disk_full(exc):
            raise MedSafetyError(stopped_message(out, "disk full while saving the adapter")) from None
        raise
    return TrainedRun(
        optimizer_steps=int(trainer.state.global_step),
        epochs=float(trainer.state.epoch or 0.0),
        losses=losses,
        merged_dir=merged_dir,
        main_process=trainer.is_world_process_zero(),
    )


def _write_outputs(trainer: Any, plan: FinetunePlan) -> tuple[list[LossPoint], str | None]:
    """Adapter, tokenizer, loss log and curve (and the merged model); returns losses and merged dir.

    ``Trainer.save_model`` runs on every process, so FSDP/ZeRO-3 shards are gathered before rank 0
    writes; files land in a temporary folder first and are then moved into ``out``."""
    from .lossplot import write_loss_curve

    out = Path(plan.request.out)
    losses = _loss_points(trainer.state.log_history)
    staging = out / f".adapter.tmp-{trainer.state.global_step}"
    trainer.save_model(str(staging))  # adapter + tokenizer (the trainer's processing class)
    merged_dir = None
    if trainer.is_world_process_zero():
        for path in staging.iterdir():
            path.replace(out / path.name)
        shutil.rmtree(staging, ignore_errors=True)
        atomic_write_text(out / "loss_log.jsonl", "".join(p.model_dump_json() + "\n" for p in losses))
        if losses:
            # matplotlib is optional: without it the loss log above holds the same numbers
            with contextlib.suppress(ImportError):
                write_loss_curve(losses, out / "loss_curve.png")
        if plan.request.merge:
            merged_dir = str(out / "merged")
            _merge(trainer, plan)
    return losses, merged_dir


def _save_pretrained_atomic(obj: Any, target: Path, **kwargs: Any) -> None:
    """``save_pretrained`` into a temporary folder, then move each file into ``target``."""
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    obj.save_pretrained(str(tmp), **kwargs)
    target.mkdir(parents=True, exist_ok=True)
    for path in tmp.iterdir():
        path.replace(target / path.name)
    tmp.rmdir()


def _merge(trainer: Any, plan: FinetunePlan) -> None:
    """Base + adapter as one plain model in ``out/merged``. In one process the trained model is merged
    in place; after a distributed or QLoRA run the base is reloaded unquantized and the saved adapter
    merged into it."""
    out, qlora = Path(plan.request.out), plan.request.qlora
    if plan.ref is not None and (qlora or world_size() > 1):
        from peft import PeftModel

        precision: Precision = "bf16" if qlora else plan.precision
        base = load_base_model(plan.ref, precision)
        merged = PeftModel.from_pretrained(base, str(out)).merge_and_unload()
    else:
        merged = trainer.model.merge_and_unload()
    merged.config.use_cache = True
    _save_pretrained_atomic(merged, out / "merged")
    _save_pretrained_atomic(plan.tokenizer, out / "merged")

"""Run a LoRA fine-tune with TRL's SFTTrainer and write adapter, tokenizer, manifest and loss log."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import MedSafetyError
from ..schema import Demonstration
from .formatting import TokenizedExample, tokenize_demonstrations
from .manifest import (
    DataSource,
    FinetuneManifest,
    LossPoint,
    atomic_write_text,
    demonstrations_sha256,
    package_versions,
)
from .models import Precision, check_target_modules, load_base_model, load_tokenizer, resolve_model
from .recipes import Recipe, gradient_accumulation

__all__ = [
    "CHECKPOINT_DIR",
    "OWNED_OUTPUTS",
    "RUN_PLAN",
    "last_complete_checkpoint",
    "run_finetune",
    "training_precision",
    "world_size",
]

CHECKPOINT_DIR = "checkpoints"
RUN_PLAN = "run_plan.json"
"""Written before training: a resumed run must match it, so checkpoints of another run are never mixed in."""

OWNED_OUTPUTS = frozenset(
    {
        CHECKPOINT_DIR,
        RUN_PLAN,
        "manifest.json",
        "loss_log.jsonl",
        "loss_curve.png",
        "merged",
        "README.md",  # peft's model card, written with the adapter
        "training_args.bin",
        "adapter_config.json",
        "adapter_model.safetensors",
        "adapter_model.bin",
        "tokenizer.json",
        "tokenizer_config.json",
        "tokenizer.model",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "merges.txt",
        "chat_template.jinja",
        "chat_template.json",
    }
)
"""Names in ``out`` that a run writes (``--overwrite`` removes these, and its ``.adapter.tmp-*`` / ``.merged.tmp-*``
staging folders, and nothing else)."""

_STAGING = re.compile(r"^\.(adapter|merged)\.tmp-\d+$")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_DISK_FULL = re.compile(r"no space left on device|storagefull|errno 28\b|code: 28\b", re.IGNORECASE)

_TEMPLATE_NOTE = {
    "alpaca_no_input": "alpaca_no_input (Alpaca-LoRA '### Instruction:' / '### Response:'; loss on all tokens)",
    "chat_template": "chat_template (the tokenizer's chat template; loss on the assistant turn only)",
}


def world_size() -> int:
    """Number of training processes (``accelerate launch`` / ``torchrun`` set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def training_precision(recipe: Recipe, cuda: bool, bf16_supported: bool) -> Precision:
    """fp32 on CPU; on a GPU the recipe's precision (bf16 falls back to fp16 where the GPU lacks it)."""
    if not cuda:
        return "fp32"
    if recipe.gpu_precision == "bf16" and not bf16_supported:
        return "fp16"
    return recipe.gpu_precision


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _plan(base_model: str, data: DataSource, recipe: Recipe, demos_sha: str, qlora: bool, procs: int) -> dict[str, Any]:
    return {
        "base_model": base_model,
        "data": data.model_dump(mode="json"),
        "recipe": recipe.model_dump(mode="json"),  # includes micro_batch
        "demonstrations_sha256": demos_sha,
        "qlora": qlora,
        "world_size": procs,
    }


def _nonempty(path: Path) -> bool:
    if path.is_dir():
        return any(_nonempty(p) for p in path.iterdir())
    return path.is_file() and path.stat().st_size > 0


def _checkpoint_problem(ckpt: Path) -> str | None:
    """What a checkpoint lacks (None when trainer state, adapter, optimizer and scheduler are all there)."""
    state = ckpt / "trainer_state.json"
    try:
        json.loads(state.read_text())
    except (OSError, ValueError):
        return "trainer_state.json is missing or unreadable"
    if not any(_nonempty(ckpt / n) for n in ("adapter_model.safetensors", "adapter_model.bin")):
        return "adapter weights are missing or empty"
    deepspeed = any(_nonempty(p) for p in ckpt.glob("global_step*"))  # ZeRO keeps optimizer and scheduler there
    if not deepspeed and not any(_nonempty(ckpt / n) for n in ("optimizer.pt", "optimizer.bin", "optimizer_0")):
        return "optimizer state is missing or empty"
    if not deepspeed and not _nonempty(ckpt / "scheduler.pt"):
        return "scheduler.pt is missing or empty"
    return None


def last_complete_checkpoint(ckpt_dir: Path, warn: bool = True) -> Path | None:
    """The newest checkpoint with every file a resume needs; incomplete ones (a kill or a full disk during
    a save) are skipped with a warning."""
    if not ckpt_dir.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))]
    for _, ckpt in sorted(found, reverse=True):
        problem = _checkpoint_problem(ckpt)
        if problem is None:
            return ckpt
        if warn:
            warnings.warn(f"skipping incomplete checkpoint {ckpt} ({problem})", stacklevel=2)
    return None


def _remove_owned_outputs(out: Path) -> None:
    if not out.is_dir():
        return
    for path in out.iterdir():
        if path.name in OWNED_OUTPUTS or _STAGING.match(path.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def _prepare_out(out: Path, plan: dict[str, Any], resume: bool, overwrite: bool) -> str | None:
    """Check ``out`` against the plan; return the checkpoint to resume from (or None)."""
    ckpt_dir = out / CHECKPOINT_DIR
    if overwrite:
        _remove_owned_outputs(out)
    if (out / "manifest.json").is_file():
        raise MedSafetyError(f"{out} already holds a finished run (manifest.json); pass --overwrite or another --out")
    found = last_complete_checkpoint(ckpt_dir)
    last = str(found) if found is not None else None
    plan_file = out / RUN_PLAN
    if plan_file.is_file() and last is not None:
        old = {"world_size": 1, **json.loads(plan_file.read_text())}  # plans before world_size: one process
        if old["world_size"] != plan["world_size"]:
            raise MedSafetyError(
                f"{ckpt_dir} was trained on {old['world_size']} process(es), this run has "
                f"{plan['world_size']}; resuming would skip other examples. Relaunch with "
                f"{old['world_size']} GPU(s), or pass --overwrite to start again"
            )
        changed = sorted(k for k in plan if old.get(k) != plan[k])
        if changed:
            raise MedSafetyError(
                f"{ckpt_dir} holds checkpoints of a different run ({', '.join(changed)} differ); "
                "use another --out, or --overwrite to discard them"
            )
    if last is not None and not resume:
        raise MedSafetyError(
            f"{ckpt_dir} holds checkpoint {Path(last).name}; drop --no-resume to continue it, "
            "or pass --overwrite to start again"
        )
    atomic_write_text(plan_file, json.dumps(plan, indent=2) + "\n")
    return last


def _dataset(examples: Sequence[TokenizedExample]) -> Any:
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


def _disk_full(exc: BaseException | None) -> bool:
    """An ENOSPC OSError, or an error whose text says so (torch.save and safetensors raise RuntimeError)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if _DISK_FULL.search(str(exc)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _save_pretrained_atomic(obj: Any, target: Path, **kwargs: Any) -> None:
    """``save_pretrained`` into a temporary folder, then move each file into ``target``."""
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    obj.save_pretrained(str(tmp), **kwargs)
    target.mkdir(parents=True, exist_ok=True)
    for path in tmp.iterdir():
        path.replace(target / path.name)
    tmp.rmdir()


def run_finetune(
    demonstrations: Sequence[Demonstration],
    model: str | Any,
    out: str | Path,
    recipe: Recipe,
    *,
    tokenizer: Any = None,
    data: DataSource | None = None,
    qlora: bool = False,
    merge: bool = False,
    resume: bool = True,
    overwrite: bool = False,
    save_steps: int = 5,
    max_steps: int | None = None,
    callbacks: Sequence[Any] = (),
) -> FinetuneManifest:
    """Fine-tune ``model`` (a name for ``resolve_model`` or a loaded model plus ``tokenizer``) on
    ``demonstrations`` with ``recipe``; checkpoints go to ``out/checkpoints`` and a rerun resumes."""
    import torch
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    if not demonstrations:
        raise MedSafetyError("no demonstrations to train on")
    out = Path(out)
    data = data or DataSource(location="in-memory", revision=None, mix=None, n=None)
    started, t0 = _now(), time.perf_counter()
    cuda = torch.cuda.is_available()
    precision = training_precision(recipe, cuda, cuda and torch.cuda.is_bf16_supported())
    if qlora and precision == "fp16" and torch.cuda.is_bf16_supported():
        precision = "bf16"  # QLoRA computes in bf16 (the 4-bit weights are dequantized to it)
    if isinstance(model, str):
        base_name, ref = model, resolve_model(model)
        tokenizer = load_tokenizer(ref)
        lm = None
    else:
        if tokenizer is None:
            raise MedSafetyError("a loaded model needs its tokenizer (tokenizer=...)")
        if qlora:
            raise MedSafetyError("qlora=True needs a model name to load in 4-bit, not a loaded model")
        base_name = str(getattr(model, "name_or_path", "") or "in-memory")
        ref, lm = None, model
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    procs = world_size()
    grad_acc = gradient_accumulation(recipe, procs)  # before any loading: a bad batch split fails fast
    demos_sha = demonstrations_sha256(demonstrations)
    examples = tokenize_demonstrations(demonstrations, tokenizer, recipe)
    resume_from = _prepare_out(out, _plan(base_name, data, recipe, demos_sha, qlora, procs), resume, overwrite)
    # The training arguments come before the model: building them (and touching ``args.device``) sets up
    # the distributed state and accelerate's DeepSpeed config, which ``from_pretrained`` reads to load
    # FSDP2 weights on rank 0 only (cpu_ram_efficient_loading) or partitioned (ZeRO-3 zero3_init_flag).
    args = SFTConfig(
        output_dir=str(out / CHECKPOINT_DIR),
        num_train_epochs=recipe.epochs,
        max_steps=max_steps if max_steps is not None else -1,
        per_device_train_batch_size=recipe.micro_batch,
        gradient_accumulation_steps=grad_acc,
        learning_rate=recipe.learning_rate,
        warmup_steps=recipe.warmup_steps,
        lr_scheduler_type=recipe.lr_scheduler,
        weight_decay=recipe.weight_decay,
        optim=recipe.optimizer,
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        gradient_checkpointing=recipe.gradient_checkpointing,
        seed=recipe.seed,
        logging_steps=1,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=2,
        report_to="none",
        max_length=None,  # examples are tokenized and truncated by medsafetybench.finetune.formatting
        padding_free=recipe.padding_free,
        pad_to_multiple_of=recipe.pad_to_multiple_of,
        ddp_find_unused_parameters=False if procs > 1 else None,
        dataloader_pin_memory=cuda,
        use_cpu=not cuda,
    )
    _ = args.device  # initializes accelerate's PartialState (and the process group under a launcher)
    if lm is None:
        lm = load_base_model(ref, precision, qlora=qlora)
    check_target_modules(lm, recipe.target_modules, base_name)
    peft_config = LoraConfig(
        r=recipe.lora_r,
        lora_alpha=recipe.lora_alpha,
        lora_dropout=recipe.lora_dropout,
        target_modules=recipe.target_modules if isinstance(recipe.target_modules, str) else list(recipe.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    collator = None
    if not recipe.padding_free:
        collator = DataCollatorForLanguageModeling(
            pad_token_id=tokenizer.pad_token_id, pad_to_multiple_of=recipe.pad_to_multiple_of
        )
    trainer = SFTTrainer(
        model=lm,
        args=args,
        train_dataset=_dataset(examples),
        processing_class=tokenizer,
        peft_config=peft_config,
        data_collator=collator,
        callbacks=list(callbacks),
    )
    try:
        trainer.train(resume_from_checkpoint=resume_from)
    except KeyboardInterrupt:
        raise MedSafetyError(_stopped_message(out, "interrupted")) from None
    except Exception as exc:
        if _disk_full(exc):
            raise MedSafetyError(_stopped_message(out, "disk full")) from None
        raise
    try:
        manifest = _write_outputs(trainer, tokenizer, out, merge=merge, qlora=qlora, ref=ref, precision=precision)
    except Exception as exc:
        if _disk_full(exc):
            raise MedSafetyError(_stopped_message(out, "disk full while saving the adapter")) from None
        raise
    state = trainer.state
    epochs_done = float(state.epoch or 0.0)
    losses = manifest["losses"]
    result = FinetuneManifest(
        base_model=base_name,
        base_model_resolved=ref.display if ref is not None else base_name,
        data=data,
        demonstrations=len(demonstrations),
        demonstrations_sha256=demos_sha,
        recipe=recipe,
        training_template=_TEMPLATE_NOTE[recipe.template],
        seed=recipe.seed,
        world_size=procs,
        gradient_accumulation_steps=grad_acc,
        precision=precision,
        qlora=qlora,
        device=torch.cuda.get_device_name(0) if cuda else "cpu",
        optimizer_steps=int(state.global_step),
        train_tokens=round(sum(len(e.input_ids) for e in examples) * epochs_done),
        loss_tokens=round(sum(e.loss_tokens for e in examples) * epochs_done),
        examples_at_max_length=sum(e.hit_max_length for e in examples),
        first_loss=losses[0].loss if losses else None,
        last_loss=losses[-1].loss if losses else None,
        wall_time_s=round(time.perf_counter() - t0, 3),
        resumed_from=Path(resume_from).name if resume_from else None,
        started_at=started,
        finished_at=_now(),
        packages=package_versions(),
        adapter_dir=str(out),
        merged_dir=manifest["merged_dir"],
    )
    if trainer.is_world_process_zero():
        atomic_write_text(out / "manifest.json", result.model_dump_json(indent=2) + "\n")
    return result


def _stopped_message(out: Path, why: str) -> str:
    last = last_complete_checkpoint(out / CHECKPOINT_DIR, warn=False)
    kept = (
        f"last complete checkpoint is {last} (state, adapter, optimizer and scheduler files present)"
        if last
        else "no complete checkpoint was saved yet"
    )
    return f"training stopped ({why}); {kept}; rerun the same command to resume"


def _write_outputs(
    trainer: Any, tokenizer: Any, out: Path, *, merge: bool, qlora: bool, ref: Any, precision: Precision
) -> dict[str, Any]:
    """Adapter, tokenizer, loss log and curve (and the merged model); returns losses and merged dir.

    ``Trainer.save_model`` runs on every process, so FSDP/ZeRO-3 shards are gathered before rank 0
    writes; files land in a temporary folder first and are then moved into ``out``."""
    from .lossplot import write_loss_curve

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
        if merge:
            merged_dir = str(out / "merged")
            _merge(trainer, tokenizer, out, qlora=qlora, ref=ref, precision=precision)
    return {"losses": losses, "merged_dir": merged_dir}


def _merge(trainer: Any, tokenizer: Any, out: Path, *, qlora: bool, ref: Any, precision: Precision) -> None:
    """Base + adapter as one plain model in ``out/merged``. In one process the trained model is merged
    in place; after a distributed or QLoRA run the base is reloaded unquantized and the saved adapter
    merged into it."""
    if ref is not None and (qlora or world_size() > 1):
        from peft import PeftModel

        base = load_base_model(ref, "bf16" if qlora else precision)
        merged = PeftModel.from_pretrained(base, str(out)).merge_and_unload()
    else:
        merged = trainer.model.merge_and_unload()
    merged.config.use_cache = True
    _save_pretrained_atomic(merged, out / "merged")
    _save_pretrained_atomic(tokenizer, out / "merged")

"""The output folder of a run: what a run owns in it, complete checkpoints, and why a run stopped."""

from __future__ import annotations

import errno
import json
import re
import shutil
import warnings
from pathlib import Path

__all__ = [
    "CHECKPOINT_DIR",
    "OWNED_OUTPUTS",
    "RUN_PLAN",
    "disk_full",
    "last_complete_checkpoint",
    "remove_owned_outputs",
    "stopped_message",
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


def remove_owned_outputs(out: Path) -> None:
    """Delete what a run wrote in ``out`` (``OWNED_OUTPUTS`` and staging folders); other files stay."""
    if not out.is_dir():
        return
    for path in out.iterdir():
        if path.name in OWNED_OUTPUTS or _STAGING.match(path.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def disk_full(exc: BaseException | None) -> bool:
    """An ENOSPC OSError, or an error whose text says so (torch.save and safetensors raise RuntimeError)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if _DISK_FULL.search(str(exc)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def stopped_message(out: Path, why: str) -> str:
    """One line for a run that stopped early: which checkpoint a rerun resumes from."""
    last = last_complete_checkpoint(out / CHECKPOINT_DIR, warn=False)
    kept = (
        f"last complete checkpoint is {last} (state, adapter, optimizer and scheduler files present)"
        if last
        else "no complete checkpoint was saved yet"
    )
    return f"training stopped ({why}); {kept}; rerun the same command to resume"

"""Medical-skill retention check through lm-evaluation-harness (the optional ``lm_eval`` extra).

Upstream checked MedQA (4 options), MedMCQA, PubMedQA and the MMLU medical subsets, 3-shot. We run
the same lm_eval tasks for the base model and for base + adapter and report each change with its
standard error (paired over the same questions when per-question results are available).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import MedSafetyError
from ..models import check_adapter_base, local_model, resolve_model

__all__ = [
    "MEDICAL_TASKS",
    "CapabilityReport",
    "CapabilityRun",
    "TaskChange",
    "TaskScore",
    "capability_report",
    "compare_runs",
    "evaluate_capability",
    "load_task_manager",
]

MEDICAL_TASKS: tuple[str, ...] = (
    "medqa_4options",
    "medmcqa",
    "pubmedqa",
    "mmlu_anatomy",
    "mmlu_clinical_knowledge",
    "mmlu_college_biology",
    "mmlu_college_medicine",
    "mmlu_medical_genetics",
    "mmlu_professional_medicine",
)
"""lm_eval task names of the paper's capability check."""

_INSTALL = "pip install 'lm-eval>=0.4.13'"


class TaskScore(BaseModel):
    """Accuracy of one model on one task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    metric: str = "acc"
    value: float
    stderr: float | None
    n: int
    per_item: dict[int, float] = Field(default_factory=dict, description="doc_id -> 0/1 correctness.")


class CapabilityRun(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    adapter: str | None
    num_fewshot: int
    limit: int | None
    scores: list[TaskScore]


class TaskChange(BaseModel):
    """After minus before on one task; ``stderr`` is paired when both runs scored the same items."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    before: float
    after: float
    delta: float
    stderr: float | None
    paired: bool
    n: int


class CapabilityReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    adapter: str | None
    num_fewshot: int
    limit: int | None
    lm_eval_version: str
    before: CapabilityRun
    after: CapabilityRun | None
    changes: list[TaskChange]


def _lm_eval() -> Any:
    try:
        import lm_eval
    except ImportError:
        raise MedSafetyError(f"the capability check needs lm-evaluation-harness: {_INSTALL}") from None
    return lm_eval


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_FETCH_MODULES = ("datasets", "huggingface_hub", "requests", "httpx", "urllib3", "fsspec", "aiohttp")


def _is_fetch_error(exc: BaseException | None) -> bool:
    """A network or dataset-loading error (OSError covers ConnectionError and FileNotFoundError)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in _FETCH_MODULES:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def load_task_manager(
    tasks: Sequence[str], include_path: str | Path | None = None, include_defaults: bool = True
) -> Any:
    """An lm_eval TaskManager whose tasks all load (datasets fetched); one clear line otherwise."""
    _lm_eval()
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(include_path) if include_path else None, include_defaults=include_defaults)
    known = set(manager.all_tasks)
    for task in tasks:
        if task not in known:
            raise MedSafetyError(f"unknown lm_eval task {task!r} (see `lm_eval ls tasks`)")
        try:
            manager.load([task])
        except Exception as exc:
            if _is_fetch_error(exc):
                raise MedSafetyError(
                    f"capability task {task}: its Hub dataset could not be fetched ({_first_line(exc)}); "
                    "run once with network access so the datasets library caches it"
                ) from None
            raise MedSafetyError(
                f"capability task {task} failed to load: {type(exc).__name__}: {_first_line(exc)}"
            ) from None
    return manager


def _score(task: str, results: dict[str, Any]) -> TaskScore:
    row = results["results"][task]
    value = row.get("acc,none")
    if value is None:
        raise MedSafetyError(f"lm_eval task {task} reported no 'acc' metric (it has {', '.join(row)})")
    stderr = row.get("acc_stderr,none")
    per_item = {int(s["doc_id"]): float(s["acc"]) for s in results.get("samples", {}).get(task, []) if "acc" in s}
    n = results.get("n-samples", {}).get(task, {}).get("effective", len(per_item))
    return TaskScore(
        task=task,
        value=float(value),
        stderr=float(stderr) if isinstance(stderr, int | float) else None,
        n=int(n),
        per_item=per_item,
    )


def evaluate_capability(
    model: str,
    tasks: Sequence[str],
    manager: Any,
    *,
    adapter: str | None = None,
    num_fewshot: int = 3,
    limit: int | None = None,
    batch_size: int | str = 8,
    device: str | None = None,
) -> CapabilityRun:
    """Accuracy of ``model`` (plus ``adapter``) on ``tasks`` with lm_eval's HF backend."""
    _lm_eval()
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    if adapter:
        check_adapter_base(adapter, model)
    ref = resolve_model(model)
    local = local_model(ref)  # a .gguf is converted once to a cached safetensors folder
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        lm = HFLM(
            pretrained=local.path,
            gguf_file=local.gguf_file,
            peft=adapter,
            device=device,
            batch_size=batch_size,
            dtype="bfloat16" if device.startswith("cuda") else "float32",
        )
    except (OSError, ValueError) as exc:
        raise MedSafetyError(f"lm_eval cannot load {ref.display}: {_first_line(exc)}") from None
    results = simple_evaluate(
        model=lm,
        tasks=list(tasks),
        num_fewshot=num_fewshot,
        limit=limit,
        task_manager=manager,
        log_samples=True,
        bootstrap_iters=1000,
    )
    if results is None:  # only non-zero ranks of a distributed run
        raise MedSafetyError("lm_eval returned no results on this process")
    return CapabilityRun(
        model=model,
        adapter=adapter,
        num_fewshot=num_fewshot,
        limit=limit,
        scores=[_score(t, results) for t in tasks],
    )


def compare_runs(before: CapabilityRun, after: CapabilityRun) -> list[TaskChange]:
    """Per-task change; paired standard error over shared items, else sqrt(se_b^2 + se_a^2)."""
    after_by_task = {s.task: s for s in after.scores}
    changes = []
    for b in before.scores:
        a = after_by_task.get(b.task)
        if a is None:
            continue
        shared = sorted(set(b.per_item) & set(a.per_item))
        if len(shared) >= 2:
            diffs = [a.per_item[i] - b.per_item[i] for i in shared]
            mean = sum(diffs) / len(diffs)
            var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
            stderr, paired = math.sqrt(var / len(diffs)), True
        elif b.stderr is not None and a.stderr is not None:
            stderr, paired = math.sqrt(b.stderr**2 + a.stderr**2), False
        else:
            stderr, paired = None, False
        changes.append(
            TaskChange(
                task=b.task,
                before=b.value,
                after=a.value,
                delta=a.value - b.value,
                stderr=stderr,
                paired=paired,
                n=min(a.n, b.n),
            )
        )
    return changes


def capability_report(
    model: str,
    tasks: Sequence[str],
    manager: Any,
    *,
    adapter: str | None = None,
    num_fewshot: int = 3,
    limit: int | None = None,
    batch_size: int | str = 8,
    device: str | None = None,
) -> CapabilityReport:
    """Base model, then base + adapter (when given), on the same tasks and items."""
    import importlib.metadata

    if adapter:
        check_adapter_base(adapter, model)
    kwargs = {"num_fewshot": num_fewshot, "limit": limit, "batch_size": batch_size, "device": device}
    before = evaluate_capability(model, tasks, manager, **kwargs)  # type: ignore[arg-type]
    after = evaluate_capability(model, tasks, manager, adapter=adapter, **kwargs) if adapter else None  # type: ignore[arg-type]
    return CapabilityReport(
        model=model,
        adapter=adapter,
        num_fewshot=num_fewshot,
        limit=limit,
        lm_eval_version=importlib.metadata.version("lm_eval"),
        before=before,
        after=after,
        changes=compare_runs(before, after) if after else [],
    )

"""The eval commands as library calls: select items, generate, judge. They return results and raise;
the CLI parses options and prints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..core.errors import MedSafetyError
from ..dataset.records import Source
from .backends import BackendOptions, make_generator
from .judges import JudgeContext, judge_usage, make_judge
from .openai_client import ApiOptions
from .rows import DataSelection, EvalItem, GenerationSettings
from .run import Progress, RunFolder, StageResult, generate_stage, judge_stage, select_items

__all__ = ["EVAL_CONFIGS", "SUITES", "load_items", "run_generate", "run_judges"]

EVAL_CONFIGS = ("medical", "medical_train", "medical_test", "generated_llama3", "medical_benign")
SUITES = {"two-sided": (("medical_test", None), ("medical_benign", "test"))}
"""A suite = several (config, split) parts in one run; ``two-sided``: harmful medical_test + benign test."""


def load_items(
    data: str | None = None,
    revision: str | None = None,
    config: str = "medical_test",
    source: str | None = None,
    limit: int | None = None,
    per_principle: int | None = None,
    suite: str | None = None,
    split: str | None = None,
) -> tuple[list[EvalItem], DataSelection]:
    """The selected items of a dataset config (``medical_benign``: its test split unless ``split``),
    or of a suite (each part selected alone: ``per_principle`` applies to each side, ``limit`` too),
    and the selection that ``run.json`` records."""
    from .. import records

    if suite is not None:
        if suite not in SUITES:
            raise MedSafetyError(f"--suite {suite!r}: use one of {', '.join(SUITES)}")
        items = [
            item
            for part, part_split in SUITES[suite]
            for item in load_items(data, revision, part, source, limit, per_principle, split=part_split)[0]
        ]
        return items, DataSelection(
            data=data, revision=revision, config=suite, source=None, limit=limit, per_principle=per_principle
        )
    if config == "medical_benign" and split is None:
        split = "test"
    if config not in EVAL_CONFIGS:
        raise MedSafetyError(f"--config {config!r} holds no requests to evaluate; use one of {', '.join(EVAL_CONFIGS)}")
    try:
        src = Source(source) if source is not None else None
    except ValueError:
        raise MedSafetyError(f"--source {source!r}: use {', '.join(s.value for s in Source)}") from None
    if config == "medical_benign" and src is not None:
        src = None  # benign items have no source; a suite's --source filters its harmful part
    rows = records(config, split, repo_id=data, revision=revision)
    items = select_items(rows, src, limit, per_principle)  # type: ignore[arg-type]
    if not items:
        raise MedSafetyError(f"no items selected from {config} (source {source})")
    selection = DataSelection(
        data=data, revision=revision, config=config, split=split, source=src, limit=limit, per_principle=per_principle
    )
    return items, selection


def run_generate(
    out: Path,
    items: Sequence[EvalItem],
    selection: DataSelection,
    settings: GenerationSettings,
    options: BackendOptions | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> StageResult:
    """Record the items in the run folder ``out`` and generate their missing answers."""
    folder = RunFolder(out)
    folder.write_items(items, selection)
    return generate_stage(
        folder, items, settings, lambda: make_generator(settings, options), force=force, progress=progress
    )


def run_judges(
    out: Path,
    specs: Sequence[str],
    api: ApiOptions | None = None,
    batch_size: int | None = None,
    data: str | None = None,
    revision: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    upstream: str | None = None,
) -> list[StageResult]:
    """Judge the run's current answers with each judge spec (the dataset defaults to the run's own)."""
    from .. import records

    if not specs:
        raise MedSafetyError(f"no judge: pass --judge with one of {', '.join(judge_usage())}")
    folder = RunFolder(out)
    selection = folder.manifest().selection
    if data is None and selection is not None:
        data, revision = selection.data, selection.revision
    context = JudgeContext(
        load_principles=lambda: list(records("principles", repo_id=data, revision=revision)),  # type: ignore[arg-type]
        api=api or ApiOptions(),
        batch_size=batch_size,
        upstream=upstream,
    )
    judges = [make_judge(spec, context) for spec in specs]
    return judge_stage(folder, judges, force=force, progress=progress)

"""Evaluation pipeline: generate answers, judge them (1-5 rubric, refusal proxy), score and report.

Everything works on a plain list of :class:`EvalItem` (see :func:`select_items`), so any
``MedicalRequest`` / ``GeneratedRequest`` source can be evaluated; the CLI adds data loading.
"""

from __future__ import annotations

from .run import RunFolder, generate_stage, judge_stage, select_items
from .schema import EvalItem, GenerationRecord, GenerationSettings, JudgeSettings, JudgmentRecord, RunManifest

__all__ = [
    "EvalItem",
    "GenerationRecord",
    "GenerationSettings",
    "JudgeSettings",
    "JudgmentRecord",
    "RunFolder",
    "RunManifest",
    "generate_stage",
    "judge_stage",
    "select_items",
]

"""Evaluation pipeline: generate answers, judge them (registered judges), score and report.

Everything works on a plain list of :class:`EvalItem` (see :func:`select_items`), so any
``MedicalRequest`` / ``GeneratedRequest`` source can be evaluated; :mod:`.pipeline` adds data
loading. Backends are registered in :mod:`.backends`, judges in :mod:`.judges`.
"""

from __future__ import annotations

from .backends import BACKENDS, BackendOptions, generation_settings, make_generator, register_backend
from .judges import JUDGES, Judge, JudgeContext, make_judge, register_judge
from .rows import EvalItem, GenerationRecord, GenerationSettings, JudgeSettings, JudgmentRecord, RunManifest
from .run import RunFolder, generate_stage, judge_stage, select_items

__all__ = [
    "BACKENDS",
    "JUDGES",
    "BackendOptions",
    "EvalItem",
    "GenerationRecord",
    "GenerationSettings",
    "Judge",
    "JudgeContext",
    "JudgeSettings",
    "JudgmentRecord",
    "RunFolder",
    "RunManifest",
    "generate_stage",
    "generation_settings",
    "judge_stage",
    "make_generator",
    "make_judge",
    "register_backend",
    "register_judge",
    "select_items",
]

"""Judges by name: each is a :class:`Judge` subclass registered with ``@register_judge("<name>")``.

Built in: ``rubric`` (the 1-5 harmfulness rubric, :mod:`.rubric`), ``upstream`` (the paper's judge,
:mod:`.upstream`) and ``refusal`` (an offline
refusal-phrase proxy, :mod:`.refusal`). A judge owns its spec parsing, settings, judging, its
per-group numbers and its report cells (see :mod:`.base`); scoring, report and compare only
iterate over judges. To add one:

1. write ``judges/<name>.py``::

       @register_judge("toy")
       class ToyJudge(Judge):
           stats_model = ToyStats            # a GroupStats subclass with the judge's own fields
           compare_metric = "toy share"

           @classmethod
           def from_spec(cls, spec, args, context): ...   # "toy" or "toy:<args>" -> ToyJudge(...)
           def judge(self, inputs, on_done): ...          # on_done(self.record(item, ...)) per answer
           # group_stats, md_headers/md_cells, console_headers/console_cells, compare_value

2. import it below, so that ``--judge toy`` and the reports know it;
3. test it like ``tests/eval/test_toy_judge.py`` (judge -> report -> compare).
"""

from __future__ import annotations

# isort: off
# Registration order is the order of the judges in help texts and of their notes in reports.
from . import rubric
from . import upstream
from . import refusal
from . import overrefusal

# isort: on
from .base import (
    JUDGES,
    ChartAxis,
    GroupStats,
    Judge,
    JudgeContext,
    JudgeInput,
    OnJudgment,
    judge_class,
    judge_usage,
    make_judge,
    register_judge,
)
from .overrefusal import OverRefusalJudge
from .refusal import RefusalJudge
from .rubric import RubricJudge
from .upstream import UpstreamJudge

DEFAULT_JUDGES: tuple[str, ...] = ("refusal",)
"""What ``eval`` runs when no ``--judge`` is given: the offline proxy (no API, no model)."""

__all__ = [
    "DEFAULT_JUDGES",
    "JUDGES",
    "ChartAxis",
    "GroupStats",
    "Judge",
    "JudgeContext",
    "JudgeInput",
    "OnJudgment",
    "OverRefusalJudge",
    "RefusalJudge",
    "RubricJudge",
    "UpstreamJudge",
    "judge_class",
    "judge_usage",
    "make_judge",
    "overrefusal",
    "refusal",
    "register_judge",
    "rubric",
    "upstream",
]

"""MedSafetyBench as inspect_ai tasks (optional extra ``inspect``).

``inspect eval medsafetybench/medsafetybench --model <provider/model>`` runs the benchmark on our data
(the loader's items, same ids and text as ``medsafetybench eval``), scored by our judges (any
registered judge; model-graded ones ask inspect's ``grader`` model role) with our numbers
(each judge's ``group_stats``: overall, per principle, per source). The tasks are found through
inspect's entry point (``[project.entry-points.inspect_ai]``, module :mod:`._registry`).
"""

from __future__ import annotations

from .samples import eval_items, item_to_sample, request_prompt
from .scorers import JUDGE_SCORERS, by_principle, by_source, judge_scorer, judge_spec, overall
from .tasks import medsafetybench, medsafetybench_benign

__all__ = [
    "JUDGE_SCORERS",
    "by_principle",
    "by_source",
    "eval_items",
    "item_to_sample",
    "judge_scorer",
    "judge_spec",
    "medsafetybench",
    "medsafetybench_benign",
    "overall",
    "request_prompt",
]

"""MedSafetyBench: typed data, validators, evaluation and safety fine-tuning pipelines."""

from __future__ import annotations

from .errors import MedSafetyError, UpstreamError
from .finetune_subsets import finetune_subset
from .loader import load, records
from .schema import (
    Demonstration,
    GeneratedRequest,
    MedicalRequest,
    MixOrder,
    Origin,
    Principle,
    PrincipleRecord,
    Source,
    Split,
)

__version__ = "0.1.0"

__all__ = [
    "Demonstration",
    "GeneratedRequest",
    "MedSafetyError",
    "MedicalRequest",
    "MixOrder",
    "Origin",
    "Principle",
    "PrincipleRecord",
    "Source",
    "Split",
    "UpstreamError",
    "__version__",
    "finetune_subset",
    "load",
    "records",
]

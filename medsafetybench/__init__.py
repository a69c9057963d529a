"""MedSafetyBench: typed data, validators, evaluation and safety fine-tuning pipelines."""

from __future__ import annotations

from .core.errors import MedSafetyError, UpstreamError
from .dataset.finetune_subsets import NonCommercialDataWarning, finetune_subset
from .dataset.leakage import disjoint_test_ids
from .dataset.loader import load, records
from .dataset.records import (
    Demonstration,
    GeneratedRequest,
    MedicalRequest,
    MixOrder,
    NearDuplicatePair,
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
    "NearDuplicatePair",
    "NonCommercialDataWarning",
    "Origin",
    "Principle",
    "PrincipleRecord",
    "Source",
    "Split",
    "UpstreamError",
    "__version__",
    "disjoint_test_ids",
    "finetune_subset",
    "load",
    "records",
]

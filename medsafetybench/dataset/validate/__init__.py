"""Validators: is a copy of the dataset exactly the release it claims to be?"""

from .report import CheckResult, Status, ValidationReport
from .run import validate

__all__ = ["CheckResult", "Status", "ValidationReport", "validate"]

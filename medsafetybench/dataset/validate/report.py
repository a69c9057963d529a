"""Typed validation report: one entry per named check."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CheckResult", "Status", "ValidationReport"]

MAX_DETAILS = 50


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class CheckResult(BaseModel):
    """Outcome of one check, with the offending ids/rows (first ``MAX_DETAILS``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    status: Status
    summary: str
    details: list[str] = Field(default_factory=list)
    total_issues: int = 0

    @classmethod
    def make(cls, name: str, ok_summary: str, issues: list[str], *, warn: bool = False) -> CheckResult:
        """PASS with ``ok_summary`` when ``issues`` is empty, else FAIL (or WARN) listing them."""
        if not issues:
            return cls(name=name, status=Status.PASS, summary=ok_summary)
        status = Status.WARN if warn else Status.FAIL
        return cls(
            name=name,
            status=status,
            summary=f"{len(issues)} issue(s): {issues[0]}",
            details=issues[:MAX_DETAILS],
            total_issues=len(issues),
        )


class ValidationReport(BaseModel):
    """``medsafetybench validate --json`` output."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    target: str
    revision: str | None = None
    release: str | None = None
    checks: list[CheckResult]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(c.status is not Status.FAIL for c in self.checks)

    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status is Status.FAIL]

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

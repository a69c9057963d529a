"""Errors with one-line messages that name the file, row or item at fault."""

from __future__ import annotations


class MedSafetyError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits non-zero."""


class UpstreamError(MedSafetyError):
    """Bad upstream input: names the file and, where known, the line."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path, self.line, self.detail = path, line, message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")

"""Append-only JSONL files of pydantic records: every record is flushed to disk as it is written.

A process killed mid-write leaves at most one partial last line; reading ignores it and the next
append truncates it, so a restarted stage loses nothing that was completely written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ..core.errors import MedSafetyError
from ..core.secrets import redact

__all__ = ["JsonlFile"]

M = TypeVar("M", bound=BaseModel)


class JsonlFile(Generic[M]):
    """A JSONL file holding records of one pydantic type."""

    def __init__(self, path: Path, model: type[M]) -> None:
        self.path, self.model = Path(path), model

    def read(self) -> list[M]:
        """All complete records; a malformed complete line raises with its line number."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        complete, tail = lines[:-1], lines[-1]  # tail is b"" unless the last write was cut off
        out: list[M] = []
        for number, raw in enumerate(complete, start=1):
            if not raw.strip():
                continue
            try:
                out.append(self.model.model_validate_json(raw))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "line"
                raise MedSafetyError(
                    f"{self.path}:{number}: not a valid {self.model.__name__} ({where}: {first['msg']})"
                ) from None
        del tail  # an unterminated last line is a write cut off by a kill: ignored, truncated on append
        return out

    def _drop_partial_tail(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) == b"\n":
                return
            fh.seek(0)
            keep = fh.read().rfind(b"\n") + 1
            fh.truncate(keep)

    def append(self, records: Iterable[M]) -> int:
        """Append records, flushing and syncing after each; returns how many were written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_partial_tail()
        n = 0
        with self.path.open("a", encoding="utf-8") as fh:
            for record in records:
                fh.write(redact(record.model_dump_json()) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                n += 1
        return n

    def writer(self) -> _Writer[M]:
        """A context manager that appends one record at a time (for streaming stages)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_partial_tail()
        return _Writer(self.path)

    def archive(self, suffix: str) -> Path | None:
        """Move the file aside (``--force``); returns the new path, or None if it did not exist."""
        if not self.path.exists():
            return None
        target = self.path.with_name(f"{self.path.name}.{suffix}")
        self.path.replace(target)
        return target


class _Writer(Generic[M]):
    def __init__(self, path: Path) -> None:
        self._fh = path.open("a", encoding="utf-8")
        self.count = 0

    def write(self, record: M) -> None:
        self._fh.write(redact(record.model_dump_json()) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.count += 1

    def __enter__(self) -> _Writer[M]:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

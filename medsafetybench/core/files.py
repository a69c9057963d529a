"""Atomic file writes and sha256 digests of files and folders."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "sha256_file", "sha256_files", "sha256_text"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`; secret values are redacted (:mod:`.secrets`)."""
    from .secrets import redact

    atomic_write_bytes(path, redact(text).encode("utf-8"))


def sha256_file(path: Path) -> str:
    """Hex sha256 of one file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(folder: Path, names: Iterable[str]) -> str:
    """One sha256 over the named files of a folder (name, NUL, bytes for each file that exists)."""
    digest = hashlib.sha256()
    for name in names:
        path = Path(folder) / name
        if path.is_file():
            digest.update(f"{name}\0".encode())
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    """Hex sha256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

"""Versions of Python and installed packages, recorded in reports and manifests."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable

__all__ = ["package_versions"]


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """``{"python": ..., name: version}`` for each installed package of ``names`` (others are left out)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out

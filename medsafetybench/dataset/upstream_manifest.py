"""The pinned upstream release: commit, archive URL and the sha256 of every data file."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import UpstreamError
from ..core.files import sha256_file
from ..core.resources import resource_text

__all__ = ["UpstreamFile", "UpstreamManifest", "pinned_manifest"]


class UpstreamFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


class UpstreamManifest(BaseModel):
    """What a verified upstream copy must contain (``validation/upstream_manifest.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    repository: str
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    license: str
    files: list[UpstreamFile]

    @property
    def archive_url(self) -> str:
        return f"https://github.com/{self.repository}/archive/{self.commit}.tar.gz"

    def verify(self, root: Path) -> None:
        """Check that every listed file exists under ``root`` with the pinned size and sha256."""
        for f in self.files:
            path = root / f.path
            if not path.is_file():
                raise UpstreamError(f.path, f"missing file (expected in {root})")
            digest = sha256_file(path)
            if digest != f.sha256:
                raise UpstreamError(f.path, f"sha256 mismatch: got {digest}, pinned {f.sha256}")


@functools.cache
def pinned_manifest() -> UpstreamManifest:
    """The manifest of the pinned upstream commit shipped with the package."""
    text = resource_text("_validation", "upstream_manifest.json")
    return UpstreamManifest.model_validate_json(text)

"""The demonstrations of a run: an upstream mix from a build or the Hub, and which revision it was."""

from __future__ import annotations

from pathlib import Path

from ..core.files import sha256_files
from ..dataset.records import Demonstration
from .manifest import DataSource

__all__ = ["dataset_revision", "folder_sha256", "load_mix"]


def folder_sha256(folder: Path) -> str:
    """``sha256:`` + hash of every file (relative path and bytes) of a local build folder, caches excluded."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts)
    return "sha256:" + sha256_files(folder, [str(p.relative_to(folder)) for p in files])


def dataset_revision(location: str, revision: str | None) -> str | None:
    """The Hub commit (resolved when the Hub is reachable), or the content hash of a local build."""
    if Path(location).is_dir():
        return folder_sha256(Path(location))
    if revision and len(revision) == 40:
        return revision
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(location, revision=revision).sha or revision
    except Exception:  # offline or no access: keep what the user asked for
        return revision


def load_mix(mix: str, n: int, data: str | None, revision: str | None) -> tuple[list[Demonstration], DataSource]:
    """Upstream's ``mix`` subset of size ``n`` (in upstream's order) and where it came from; ``data`` is a
    build folder or Hub repo id (default ``$MEDSAFETYBENCH_REPO_ID``)."""
    from ..dataset.finetune_subsets import finetune_subset
    from ..dataset.loader import resolve_repo

    location = resolve_repo(data)
    demos = finetune_subset(mix, n, location, revision)  # type: ignore[arg-type]
    source = DataSource(location=location, revision=dataset_revision(location, revision), mix=mix, n=n)  # type: ignore[arg-type]
    return demos, source

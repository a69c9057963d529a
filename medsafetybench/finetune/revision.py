"""Which revision of the dataset a run used."""

from __future__ import annotations

from pathlib import Path

from .manifest import folder_sha256

__all__ = ["dataset_revision"]


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

"""Run every check on a build folder or a Hub repo at a revision."""

from __future__ import annotations

import re
import time
from pathlib import Path

from ...core.errors import MedSafetyError
from ..contract import ReleaseContract, pinned_contract
from ..upstream_manifest import UpstreamManifest, pinned_manifest
from .checks import CHECKS, load_view
from .report import ValidationReport

__all__ = ["resolve_target", "validate"]

_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+(@[\w./-]+)?$")


def resolve_target(target: str) -> tuple[Path, str | None]:
    """A local folder for ``target`` (a folder, or ``ORG/NAME[@REV]`` fetched with huggingface_hub)."""
    from ..location import check_location

    path = Path(target)
    if path.is_dir():
        return path, None
    repo_id, _, revision = target.partition("@")
    if not _HUB_ID.match(target):
        raise MedSafetyError(f"{target}: the folder does not exist (and it is not a Hub id ORG/NAME[@REV])")
    check_location(repo_id, revision or None)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        local = snapshot_download(repo_id, repo_type="dataset", revision=revision or None)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        raise MedSafetyError(
            f"{target}: cannot fetch from the Hub ({exc.__class__.__name__}: {str(exc).splitlines()[0]})"
        ) from None
    return Path(local), revision or None


def validate(
    target: str | Path,
    contract: ReleaseContract | None = None,
    upstream: Path | None = None,
    upstream_manifest: UpstreamManifest | None = None,
) -> ValidationReport:
    """Every named check on ``target``; never raises for data problems, only reports them."""
    start = time.perf_counter()
    contract = contract or pinned_contract()
    root, revision = resolve_target(str(target))
    up = (upstream, upstream_manifest or pinned_manifest()) if upstream is not None else None
    view = load_view(root, contract, up)
    results = [check(view) for _, check in CHECKS]
    return ValidationReport(
        target=str(target),
        revision=revision,
        release=view.manifest.version if view.manifest else None,
        checks=results,
        seconds=round(time.perf_counter() - start, 2),
    )

"""Where a dataset is: a local build folder or a Hub id, checked in well under a second.

Every entry point (``msb.load``/``records``, ``validate``, ``eval``, ``finetune``, ``capability``)
checks its location here first, so a bad one is one line: a missing folder, an empty folder, a
folder that is not a build, a Hub id while offline or with the Hub unreachable.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from ..core.errors import MedSafetyError

__all__ = ["HUB_ID", "check_location", "hub_reachable"]

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PROBE_TIMEOUT_S = 3.0


def _looks_local(location: str) -> bool:
    """A path rather than ``ORG/NAME``: starts with ``.``/``/``/``~``, has 0 or 2+ slashes, or its
    first part is an existing folder (``runs/medsafetybench`` when ``runs/`` exists)."""
    if location.startswith((".", "/", "~")) or "\\" in location or location.count("/") != 1:
        return True
    return Path(location.split("/", 1)[0]).is_dir()


def _check_build(path: Path, location: str) -> None:
    if not any(path.iterdir()):
        raise MedSafetyError(f"{location}: the folder is empty (build one with `medsafetybench build --out DIR`)")
    if not (path / "README.md").is_file() or not (path / "data").is_dir():
        raise MedSafetyError(
            f"{location}: not a dataset build (no README.md card and data/ folder; "
            "build one with `medsafetybench build --out DIR`)"
        )


def hub_reachable() -> bool:
    """Whether the Hub's host accepts a TCP connection within a few seconds (no retries)."""
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=PROBE_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def _cached(repo_id: str, revision: str | None) -> bool:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(repo_id, repo_type="dataset", revision=revision, local_files_only=True)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return False
    return True


def check_location(location: str, revision: str | None = None, check_build: bool = True) -> tuple[str, bool]:
    """``(location, is_local)``: a build folder (resolved) or a reachable (or cached) Hub id; else one
    line naming the problem. ``check_build=False`` accepts any existing folder."""
    path = Path(location).expanduser()
    if path.is_dir():
        if revision is not None:
            raise MedSafetyError(f"{location}: a revision only applies to a Hub repo, not a local folder")
        if check_build:
            _check_build(path, location)
        return str(path.resolve()), True
    if path.exists():
        raise MedSafetyError(f"{location}: a file, not a dataset build folder")
    if _looks_local(location) or not HUB_ID.match(location):
        raise MedSafetyError(f"{location}: the folder does not exist (and it is not a Hub id ORG/NAME)")
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        if not _cached(location, revision):
            raise MedSafetyError(f"{location}: not a local folder, and not cached while offline (HF_HUB_OFFLINE=1)")
    elif not hub_reachable():
        raise MedSafetyError(
            f"{location}: not a local folder, and the Hub cannot be reached (offline? a cached copy loads "
            "with HF_HUB_OFFLINE=1)"
        )
    return location, False

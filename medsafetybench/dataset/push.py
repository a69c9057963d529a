"""Publish a validated build to the Hub: a plan first, then one commit and a release tag."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table

from ..core.errors import MedSafetyError
from ..core.files import sha256_file
from .build import MANIFEST_FILE, BuildManifest
from .card import with_repo_id

__all__ = ["Change", "PushPlan", "plan_push", "print_plan", "push_folder"]


class Change(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"


class PlannedFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    path: str
    bytes: int
    change: Change


class PushPlan(BaseModel):
    """What ``push`` would do; printed before anything is uploaded."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    folder: str
    repo_id: str
    tag: str
    private: bool
    version: str
    files: list[PlannedFile]
    deleted: list[str]
    remote: str


def _git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _remote_files(repo_id: str) -> tuple[dict[str, tuple[str | None, str]], str]:
    """Remote path -> (lfs sha256, git blob id); and a one-line description of the remote state."""
    from huggingface_hub import HfApi

    try:
        entries = HfApi().list_repo_tree(repo_id, repo_type="dataset", recursive=True)
        files = {e.path: (e.lfs.sha256 if e.lfs else None, e.blob_id) for e in entries if hasattr(e, "blob_id")}
    except Exception as exc:
        return {}, f"remote state unknown ({exc.__class__.__name__})"
    return files, f"remote has {len(files)} files"


def plan_push(folder: Path, repo_id: str, revision: str | None, private: bool) -> PushPlan:
    """Validate ``folder`` (refusing on any error) and diff it against the remote repo."""
    from .validate import validate

    report = validate(folder)
    if not report.passed:
        raise MedSafetyError(f"{folder} fails validation ({', '.join(report.failed())}); refusing to push")
    manifest = BuildManifest.model_validate_json((folder / MANIFEST_FILE).read_text("utf-8"))
    remote, state = _remote_files(repo_id)
    planned = []
    local_paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    for path in local_paths:
        rel = path.relative_to(folder).as_posix()
        if not remote:
            change = Change.UNKNOWN if state.startswith("remote state unknown") else Change.ADDED
        elif rel not in remote:
            change = Change.ADDED
        else:
            lfs_sha, blob = remote[rel]
            same = sha256_file(path) == lfs_sha if lfs_sha else _git_blob_sha1(path) == blob
            change = Change.UNCHANGED if same else Change.CHANGED
        planned.append(PlannedFile(path=rel, bytes=path.stat().st_size, change=change))
    local = {p.path for p in planned}
    deleted = sorted(p for p in remote if p.startswith("data/") and p not in local)
    return PushPlan(
        folder=str(folder),
        repo_id=repo_id,
        tag=revision or f"v{manifest.version}",
        private=private,
        version=manifest.version,
        files=planned,
        deleted=deleted,
        remote=state,
    )


def print_plan(plan: PushPlan, console: Console) -> None:
    table = Table(title=f"push {plan.folder} -> {plan.repo_id} (tag {plan.tag}{', private' if plan.private else ''})")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    table.add_column("change")
    for f in plan.files:
        table.add_row(f.path, f"{f.bytes:,}", f.change.value)
    for d in plan.deleted:
        table.add_row(d, "", "deleted")
    console.print(table)
    total = sum(f.bytes for f in plan.files)
    console.print(f"{len(plan.files)} files, {total:,} bytes; {plan.remote}; validation passed")


def push_folder(plan: PushPlan) -> str:
    """Upload in one commit and tag it; the token comes from the environment or ``hf auth login``.

    The card is uploaded with the real repo id in place of :data:`~.card.REPO_PLACEHOLDER`; the local
    build is not modified (the upload is staged in a temporary copy).
    """
    from huggingface_hub import DatasetCard, HfApi, get_token

    token = get_token()
    if not token:
        raise MedSafetyError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (the token is never printed)")
    folder = Path(plan.folder)
    card = with_repo_id((folder / "README.md").read_text("utf-8"), plan.repo_id)
    api = HfApi()
    try:
        DatasetCard(card).validate(repo_type="dataset")
        api.create_repo(plan.repo_id, repo_type="dataset", private=plan.private, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="msb-push-") as tmp:
            staged = Path(tmp) / folder.name
            shutil.copytree(folder, staged, ignore=shutil.ignore_patterns(".*"))
            (staged / "README.md").write_text(card, encoding="utf-8")
            commit = api.upload_folder(
                repo_id=plan.repo_id,
                repo_type="dataset",
                folder_path=staged,
                commit_message=f"medsafetybench release {plan.version}",
                delete_patterns=["data/**"],
            )
        api.create_tag(plan.repo_id, tag=plan.tag, repo_type="dataset", revision=commit.oid, exist_ok=False)
    except MedSafetyError:
        raise
    except Exception as exc:
        detail = (str(exc).splitlines() or [""])[0].replace(token, "***")
        raise MedSafetyError(f"push to {plan.repo_id} failed: {exc.__class__.__name__}: {detail}") from None
    return commit.commit_url

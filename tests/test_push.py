"""push: one commit and a tag through huggingface_hub (its network calls replaced by recorders)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.dataset.card import REPO_PLACEHOLDER
from medsafetybench.dataset.push import Change, PlannedFile, PushPlan, push_folder


def _plan(folder: Path) -> PushPlan:
    return PushPlan(
        folder=str(folder),
        repo_id="org/msb",
        tag="v1.0.0",
        private=True,
        version="1.0.0",
        files=[PlannedFile(path="README.md", bytes=1, change=Change.ADDED)],
        deleted=[],
        remote="x",
    )


def test_push_uploads_one_commit_and_tags_it(fixture_build: Path, monkeypatch: pytest.MonkeyPatch):
    calls: list[tuple[str, dict]] = []

    def record(name, result=None):
        def method(self, *args, **kwargs):
            calls.append((name, {**dict(enumerate(args)), **kwargs}))
            return result

        return method

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_secret_token")
    monkeypatch.setattr(huggingface_hub.DatasetCard, "validate", record("validate"))
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", record("create_repo"))
    commit = SimpleNamespace(oid="abc123", commit_url="https://hub.example/org/msb/commit/abc123")
    uploaded: dict[str, str] = {}

    def upload_folder(self, *args, **kwargs):
        staged = Path(kwargs["folder_path"])
        uploaded.update({p.relative_to(staged).as_posix(): "" for p in staged.rglob("*")})
        uploaded["README.md"] = (staged / "README.md").read_text()
        return record("upload_folder", commit)(self, *args, **kwargs)

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_tag", record("create_tag"))
    url = push_folder(_plan(fixture_build))
    assert url.endswith("/commit/abc123")
    assert [c[0] for c in calls] == ["validate", "create_repo", "upload_folder", "create_tag"]
    upload = calls[2][1]
    assert upload["repo_type"] == "dataset" and upload["folder_path"] != fixture_build  # a staged copy
    assert upload["delete_patterns"] == ["data/**"]
    local = {p.relative_to(fixture_build).as_posix() for p in fixture_build.rglob("*")}
    assert set(uploaded) == local
    # the card names the real repo, the local build keeps its placeholder
    assert 'load_dataset("org/msb", "medical_test"' in uploaded["README.md"]
    assert REPO_PLACEHOLDER not in uploaded["README.md"]
    assert REPO_PLACEHOLDER in (fixture_build / "README.md").read_text()
    assert calls[1][1]["private"] is True
    assert calls[3][1]["tag"] == "v1.0.0" and calls[3][1]["revision"] == "abc123"


def test_push_api_error_is_one_line_without_token(fixture_build: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_secret_token")
    monkeypatch.setattr(huggingface_hub.DatasetCard, "validate", lambda self, **kw: None)

    def fail(self, *args, **kwargs):
        raise RuntimeError("403 Forbidden: token hf_secret_token lacks write access\nmore detail")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", fail)
    with pytest.raises(MedSafetyError) as info:
        push_folder(_plan(fixture_build))
    message = str(info.value)
    assert message == "push to org/msb failed: RuntimeError: 403 Forbidden: token *** lacks write access"
    assert "hf_secret" not in message


def test_push_without_a_terminal_asks_for_yes_in_one_line(fixture_build: Path, tmp_path: Path):
    """No terminal to confirm on (CI, a pipe): one line naming --yes, exit 1, no traceback, nothing uploaded."""
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "medsafetybench", "push", str(fixture_build), "--repo-id", "someone/x"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == "error: push: no terminal to confirm the upload on; pass --yes (or --dry-run for the plan)"
    )
    assert "Traceback" not in proc.stderr + proc.stdout

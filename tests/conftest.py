"""Shared fixtures: a small invented upstream tree, its build, and the real upstream when present."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from upstream_fixture import FIXTURE_BENIGN, make_upstream

UPSTREAM = Path(os.environ.get("MEDSAFETYBENCH_UPSTREAM", Path(__file__).resolve().parents[1] / "../shared/upstream"))

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_hf_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A fresh HF cache for the whole run, so nothing from a user's cache leaks into tests."""
    os.environ["HF_HOME"] = str(tmp_path_factory.mktemp("hf_home"))


@pytest.fixture(scope="session")
def upstream_root() -> Path:
    """The real upstream copy (../shared/upstream); tests that need it skip with a reason otherwise."""
    if not (UPSTREAM / "SOURCE.txt").is_file():
        pytest.skip(f"full-data test: no upstream copy at {UPSTREAM.resolve()} (CI always has it)")
    return UPSTREAM.resolve()


@pytest.fixture(scope="session")
def full_build(upstream_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build of the real data shared by the session's tests."""
    from medsafetybench.dataset.build import build

    out = tmp_path_factory.mktemp("full") / "medsafetybench"
    build(upstream_root, out)
    return out


@pytest.fixture()
def fixture_tree(tmp_path: Path):
    """A fresh fixture upstream tree and its manifest (tests may corrupt it)."""
    root = tmp_path / "upstream"
    return root, make_upstream(root)


@pytest.fixture(scope="session")
def fixture_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medsafetybench.dataset.build import build

    base = tmp_path_factory.mktemp("fx")
    manifest = make_upstream(base / "upstream")
    out = base / "build"
    build(base / "upstream", out, manifest=manifest, benign=FIXTURE_BENIGN)
    return out

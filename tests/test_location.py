"""A bad dataset location is one line, fast, and nothing is written at --out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medsafetybench.core.errors import MedSafetyError
from medsafetybench.dataset import location
from medsafetybench.dataset.location import check_location


def test_bad_locations_are_one_line_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "notabuild").mkdir()
    (tmp_path / "notabuild" / "x.txt").write_text("x")
    cases = {
        "empty": "empty: the folder is empty (build one with `medsafetybench build --out DIR`)",
        "notabuild": "notabuild: not a dataset build (no README.md card and data/ folder; "
        "build one with `medsafetybench build --out DIR`)",
        "runs/does-not-exist": "runs/does-not-exist: the folder does not exist (and it is not a Hub id ORG/NAME)",
        "./missing": "./missing: the folder does not exist (and it is not a Hub id ORG/NAME)",
    }
    for where, message in cases.items():
        with pytest.raises(MedSafetyError) as info:
            check_location(where)
        assert str(info.value) == message
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(location, "hub_reachable", lambda: False)
    with pytest.raises(MedSafetyError, match=r"^org/name: not a local folder, and the Hub cannot be reached"):
        check_location("org/name")


def test_offline_hub_id_is_one_line_fast_and_eval_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "COLUMNS": "200"}
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "medsafetybench", "eval", "--data", "org/name", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: org/name: not a local folder, and not cached while offline (HF_HUB_OFFLINE=1)"
    ]
    assert not out.exists()
    assert elapsed < 30  # imports on a loaded CI machine; the check itself takes milliseconds


def test_eval_without_torch_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from medsafetybench.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ModuleNotFoundError
    monkeypatch.setattr(sys, "argv", ["medsafetybench", "eval", "--threads", "1", "--out", "unused"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: this command needs torch: install the torch build") and "[eval]" in err
    assert "Traceback" not in err

"""``finetune --benign K``: K medical_benign train items after the upstream mix; K = 0 keeps the mix exact."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from medsafetybench import finetune_subset, records
from medsafetybench.cli import main
from medsafetybench.core.errors import MedSafetyError
from medsafetybench.finetune.data import load_mix
from medsafetybench.finetune.manifest import demonstrations_sha256


def test_k0_is_the_upstream_mix_exactly(fixture_build: Path) -> None:
    demos, source = load_mix("medical", 100, str(fixture_build), None)
    upstream = finetune_subset("medical", 100, fixture_build)
    assert demos == upstream and demonstrations_sha256(demos) == demonstrations_sha256(upstream)
    assert source.benign == 0 and source.mix == "medical" and source.n == 100


def test_k_benign_train_items_follow_the_mix_round_robin_over_principles(fixture_build: Path) -> None:
    demos, source = load_mix("medical", 100, str(fixture_build), None, benign=4)
    upstream = finetune_subset("medical", 100, fixture_build)
    assert demos[: len(upstream)] == upstream and len(demos) == len(upstream) + 4 and source.benign == 4
    train = {b.id: b for b in records("medical_benign", "train", repo_id=fixture_build)}
    added = demos[len(upstream) :]
    assert [int(train[d.id].principle) for d in added] == [1, 2, 3, 4]
    assert all(d.instruction == train[d.id].request and d.response == train[d.id].reference_answer for d in added)
    assert all(train[d.id].split == "train" for d in added) and [d.rank for d in added] == [0, 1, 2, 3]
    with pytest.raises(MedSafetyError, match=r"^--benign 10: medical_benign has only 9 train items$"):
        load_mix("medical", 100, str(fixture_build), None, benign=10)


@pytest.mark.slow
def test_finetune_benign_is_recorded_in_the_manifest(
    monkeypatch: pytest.MonkeyPatch, fixture_build: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = [
        "finetune", "--model", str(tiny_model_dir), "--mix", "medical", "--n", "100", "--benign", "3",
        "--data", str(fixture_build), "--recipe", "paper", "--effective-batch", "4", "--micro-batch", "2",
        "--max-steps", "1", "--out", str(out),
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["medsafetybench", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert int(exc.value.code or 0) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["data"]["benign"] == 3
        and manifest["demonstrations"] == len(finetune_subset("medical", 100, fixture_build)) + 3
    )
    demos, _ = load_mix("medical", 100, str(fixture_build), None, benign=3)
    assert manifest["demonstrations_sha256"] == demonstrations_sha256(demos)

"""Build on the small fixture: layout, determinism, atomicity, and loading with `datasets`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import ClassLabel, load_dataset
from upstream_fixture import FIXTURE_BENIGN, make_upstream

from medsafetybench import finetune_subset, records
from medsafetybench.core.errors import MedSafetyError
from medsafetybench.dataset.build import build
from medsafetybench.dataset.finetune_subsets import subset_from, upstream_json
from medsafetybench.dataset.parquet_io import CANARY_KEY, read_file_metadata
from medsafetybench.dataset.pool_quality import FLAGS


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_build_layout_and_counts(fixture_build: Path):
    manifest = json.loads((fixture_build / "manifest.json").read_text())
    rows = {f["path"]: f["rows"] for f in manifest["files"]}
    assert rows == {
        "data/medical/train.parquet": 27,
        "data/medical/test.parquet": 27,
        "data/general/train.parquet": 4,
        "data/finetune/medical.parquet": 4,
        "data/finetune/mix_orders.parquet": 12,
        "data/generated/llama3.parquet": 36,
        "data/principles/principles.parquet": 9,
        "data/medical_benign/train.parquet": 9,
        "data/medical_benign/test.parquet": 9,
        "data/near_duplicates/pairs.parquet": 639,  # the fixture's templated requests all look alike
    }
    assert (fixture_build / "README.md").read_text().startswith("---\n")
    assert json.loads((fixture_build / "schema.json").read_text())["$defs"]["MedicalRequest"]
    assert json.loads((fixture_build / "schema.rows.json").read_text())["$defs"]["MedicalRequestRow"]
    for f in manifest["files"]:
        assert read_file_metadata(fixture_build / f["path"])[CANARY_KEY] == manifest["canary"].encode()


def test_two_builds_are_byte_identical(tmp_path: Path):
    manifest = make_upstream(tmp_path / "up")
    build(tmp_path / "up", tmp_path / "a", manifest=manifest, benign=FIXTURE_BENIGN)
    build(tmp_path / "up", tmp_path / "b", manifest=manifest, benign=FIXTURE_BENIGN)
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")


def test_rebuild_replaces_a_previous_build_but_not_a_foreign_folder(tmp_path: Path):
    manifest = make_upstream(tmp_path / "up")
    out = tmp_path / "out"
    build(tmp_path / "up", out, manifest=manifest, benign=FIXTURE_BENIGN)
    build(tmp_path / "up", out, manifest=manifest, benign=FIXTURE_BENIGN)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(MedSafetyError, match="not a medsafetybench build; pass --force"):
        build(tmp_path / "up", foreign, manifest=manifest, benign=FIXTURE_BENIGN)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_failed_rebuild_keeps_the_previous_build(tmp_path: Path):
    manifest = make_upstream(tmp_path / "up")
    out = tmp_path / "out"
    build(tmp_path / "up", out, manifest=manifest, benign=FIXTURE_BENIGN)
    before = _tree_bytes(out)
    (tmp_path / "up/datasets/test/llama2/med_safety_demonstrations_category_2.csv").write_text("broken")
    with pytest.raises(MedSafetyError):
        build(tmp_path / "up", out, manifest=manifest, benign=FIXTURE_BENIGN)
    assert _tree_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "up"]


def test_load_dataset_gives_typed_configs(fixture_build: Path):
    test = load_dataset(str(fixture_build), "medical_test")
    assert list(test) == ["test"] and test["test"].num_rows == 27
    assert isinstance(test["test"].features["principle"], ClassLabel)
    both = load_dataset(str(fixture_build), "medical")
    assert {k: v.num_rows for k, v in both.items()} == {"train": 27, "test": 27}
    default = load_dataset(str(fixture_build))
    assert set(default) == {"train", "test"}


def test_records_are_typed(fixture_build: Path):
    recs = list(records("medical_train", "train", repo_id=fixture_build))
    assert len(recs) == 27 and recs[0].id == "med-train-gpt4-p1-000"
    pool = list(records("generated_llama3", repo_id=fixture_build))
    flagged = {f: [r.id for r in pool if getattr(r, f)] for f in FLAGS}
    assert {f: len(ids) for f, ids in flagged.items()} == {
        "has_special_token": 9,
        "is_repetition_loop": 9,
        "is_fragment": 8,
        "has_annotation_tail": 1,
        "is_commentary": 1,
        "is_truncated": 1,
        "has_json_debris": 1,
    }
    assert flagged["is_commentary"] == ["pool-llama3-p3-00000"]
    assert sum(r.equals_benchmark_request for r in pool) == 1
    dups = {r.id: r.duplicate_of for r in pool if r.duplicate_of}
    assert dups["pool-llama3-p7-00000"] == "pool-llama3-p6-00000"  # same text up to case and spacing
    assert {dups[f"pool-llama3-p{k}-00002"] for k in range(2, 10)} == {"pool-llama3-p1-00002"}  # the loop line
    assert len(dups) == 9
    principles = list(records("principles", repo_id=fixture_build))
    assert principles[5].text == "A physician shall, in invented rule six, keep commas for testing."


def test_finetune_subsets_rebuild_fixture_files_exactly(fixture_build: Path, tmp_path: Path):
    up = tmp_path / "up"
    make_upstream(up)
    demos = list(records("finetune_demonstrations", repo_id=fixture_build))
    orders = list(records("finetune_mix_orders", repo_id=fixture_build))
    ft = up / "datasets/train-splits-used-for-ft"
    sizes = {"medical": (2, 4), "general": (2, 4), "both": (4, 8)}
    files = {
        ("medical", 2): "med_safety/ft_safety_med_n2",
        ("medical", 4): "med_safety/ft_safety_med_n4",
        ("general", 2): "gen_safety/ft_safety_gen_n2",
        ("general", 4): "gen_safety/ft_safety_gen_n4",
        ("both", 4): "both_safety/ft_safety_both_n4",
        ("both", 8): "both_safety/ft_safety_both_n8",
    }
    for (mix, n), name in files.items():
        got = upstream_json(subset_from(mix, n, demos, orders, sizes))
        assert got == (ft / f"{name}.json").read_text(), name


def test_finetune_subset_rejects_unknown_mix_and_size(fixture_build: Path):
    with pytest.raises(MedSafetyError, match="unknown mix 'safety'"):
        finetune_subset("safety", 100, repo_id=fixture_build)  # type: ignore[arg-type]
    with pytest.raises(MedSafetyError, match=r"upstream has no medical subset of n=150; it has n=100\.\.900 step 100"):
        finetune_subset("medical", 150, repo_id=fixture_build)


def test_load_without_location_is_a_clear_error(monkeypatch):
    from medsafetybench import load

    monkeypatch.delenv("MEDSAFETYBENCH_REPO_ID", raising=False)
    with pytest.raises(MedSafetyError, match=r"no dataset location: pass --data \(CLI\) or repo_id= \(Python\)"):
        load("medical_test")

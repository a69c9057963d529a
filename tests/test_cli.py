"""The command line: one-line errors, exit codes, and the documented commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from upstream_fixture import fixture_contract, make_upstream


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medsafetybench", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=300,
    )


def test_schema_prints_record_and_row_schemas():
    records = run("schema")
    assert records.returncode == 0
    doc = json.loads(records.stdout)
    assert doc["type"] == "object" and {"MedicalRequest", "GeneratedRequest", "Principle"} <= set(doc["$defs"])
    assert doc["$defs"]["Principle"]["enum"] == list(range(1, 10))
    rows = json.loads(run("schema", "--rows").stdout)
    assert rows["$defs"]["PrincipleIndex"]["maximum"] == 8 and "MedicalRequestRow" in rows["$defs"]


def test_build_error_is_one_line_and_nonzero(tmp_path: Path):
    manifest = make_upstream(tmp_path / "up")
    (tmp_path / "m.json").write_text(manifest.model_dump_json())
    (tmp_path / "up/datasets/train/llama2/med_safety_demonstrations_category_4.csv").write_text("x")
    result = run(
        "build",
        "--source",
        str(tmp_path / "up"),
        "--manifest",
        str(tmp_path / "m.json"),
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: datasets/train/llama2/med_safety_demonstrations_category_4.csv: sha256 mismatch")
    assert not (tmp_path / "out").exists()


def test_validate_exit_codes_and_json(fixture_build: Path, tmp_path: Path):
    contract = tmp_path / "contract.json"
    fixture_contract().save(contract)
    ok = run("validate", str(fixture_build), "--contract", str(contract), "--json", str(tmp_path / "r.json"))
    assert ok.returncode == 0, ok.stdout
    assert "PASS" in ok.stdout.splitlines()[-1]
    assert json.loads((tmp_path / "r.json").read_text())["checks"][0]["name"] == "files"
    # the pinned contract does not describe the fixture: counts and upstream fail, exit 1
    bad = run("validate", str(fixture_build))
    assert bad.returncode == 1
    assert "FAIL (counts, upstream)" in bad.stdout.splitlines()[-1]


def test_validate_unknown_target_is_one_line(tmp_path: Path):
    result = run("validate", str(tmp_path / "nope" / "x" / "y"))
    assert result.returncode == 1
    assert "y: the folder does not exist (and it is not a Hub id ORG/NAME[@REV])" in result.stderr


def test_push_dry_run_prints_plan_and_push_without_token_fails(full_build: Path, tmp_path: Path):
    env = {"HF_HUB_OFFLINE": "1", "HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf")}
    dry = run("push", str(full_build), "--repo-id", "someone/medsafetybench", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "data/medical/test.parquet" in dry.stdout and "tag v1.0.0" in dry.stdout
    assert "dry run: nothing uploaded" in dry.stdout
    real = run("push", str(full_build), "--repo-id", "someone/medsafetybench", "--yes", env=env)
    assert real.returncode == 1
    assert real.stderr.strip().splitlines()[-1] == (
        "error: no Hugging Face token: set HF_TOKEN or run `hf auth login` (the token is never printed)"
    )


def test_push_refuses_a_build_that_fails_validation(fixture_build: Path):
    result = run("push", str(fixture_build), "--repo-id", "someone/x", "--dry-run", env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    assert "fails validation (counts, upstream); refusing to push" in result.stderr


def test_export_finetune_writes_upstream_bytes(full_build: Path, upstream_root: Path, tmp_path: Path):
    out = tmp_path / "both.json"
    result = run("export-finetune", "--mix", "both", "--n", "1800", "--out", str(out), "--repo-id", str(full_build))
    assert result.returncode == 0, result.stderr
    expected = upstream_root / "datasets/train-splits-used-for-ft/both_safety/ft_safety_both_n1800.json"
    assert out.read_bytes() == expected.read_bytes()
    assert result.stderr.strip().splitlines()[-1] == (
        "warning: 900 of 1800 demonstrations are general safety demonstrations from Bianchi et al. (2023), "
        "Safety-Tuned LLaMAs (the general safety demonstrations), licensed Creative Commons "
        "Attribution-NonCommercial 4.0 International (cc-by-nc-4.0): non-commercial use only"
    )
    medical = run("export-finetune", "--mix", "medical", "--n", "100", "--out", str(out), "--repo-id", str(full_build))
    assert medical.returncode == 0 and "warning" not in medical.stderr
    bad = run("export-finetune", "--mix", "both", "--n", "1900", "--out", str(out), "--repo-id", str(full_build))
    assert bad.returncode == 1 and "upstream has no both subset of n=1900" in bad.stderr


def test_full_build_validates_and_lists_near_duplicates(full_build: Path):
    from medsafetybench.dataset.validate import Status, validate

    report = validate(full_build)
    assert report.passed and report.failed() == []
    leak = report.check("leakage")
    assert leak.status is Status.WARN
    assert leak.details[0] == (
        "benchmark: 287 near-duplicate pairs (151 cross_split, 78 within_train, 58 within_test) in 105 clusters; "
        "95 pairs carry different principles; 105 test ids have a near duplicate in train"
    )
    assert leak.details[1].startswith(
        "generated pool vs benchmark: 24 requests exact (24 pairs), 73 near (79 pairs, word-trigram Jaccard >= 0.7)"
    )
    assert all(d.startswith("cross_split ") for d in leak.details[2:])
    card = (full_build / "README.md").read_text()
    assert "`med-test-llama2-p7-033`" in card  # among the test ids to drop
    assert "**Label noise: 95 pairs carry different principles** (37 clusters)" in card


def test_disjoint_test_prints_the_ids_to_drop(full_build: Path, tmp_path: Path):
    result = run("disjoint-test", "--repo-id", str(full_build))
    assert result.returncode == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) == 105 and ids == sorted(ids) and all(i.startswith("med-test-") for i in ids)
    assert "105 test ids have a near duplicate in train" in result.stderr
    out = tmp_path / "drop.txt"
    assert run("disjoint-test", "--repo-id", str(full_build), "--out", str(out)).returncode == 0
    assert out.read_text().split() == ids


def test_validate_hub_target_offline_is_one_line(tmp_path: Path):
    result = run("validate", "someorg/medsafetybench@v1.0.0", env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: someorg/medsafetybench: not a local folder, and not cached while offline (HF_HUB_OFFLINE=1)"
    ]

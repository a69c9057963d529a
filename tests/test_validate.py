"""Validators: a fresh build passes; each deliberate corruption fails with the right named check."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from upstream_fixture import fixture_contract

from medsafetybench.dataset.validate import Status, validate

TEST_FILE = "data/medical/test.parquet"


@pytest.fixture()
def copy(fixture_build: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(fixture_build, dst)
    return dst


def _rewrite(root: Path, rel: str, edit) -> None:
    path = root / rel
    table = pq.read_table(path)
    meta = table.schema.metadata
    table = edit(table)
    pq.write_table(table.replace_schema_metadata(meta), path)


def _set(table: pa.Table, column: str, row: int, value) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    idx = table.column_names.index(column)
    return table.set_column(idx, table.schema.field(idx), pa.array(values, type=table.schema.field(idx).type))


def _failed(root: Path) -> list[str]:
    return validate(root, fixture_contract()).failed()


def test_fresh_fixture_build_passes(fixture_build: Path):
    report = validate(fixture_build, fixture_contract())
    assert report.passed, report.failed()
    assert [c.name for c in report.checks] == [
        "files",
        "schema",
        "counts",
        "upstream",
        "unique_ids",
        "empty_text",
        "label_range",
        "card",
        "card_metadata",
        "canary",
        "near_duplicates",
        "pool_flags",
        "leakage",
        "benign",
    ]
    leak = report.check("leakage")
    assert leak.status is Status.WARN
    assert leak.details[0] == (
        "benchmark: 639 near-duplicate pairs (243 cross_split, 198 within_train, 198 within_test) in 1 clusters; "
        "576 pairs carry different principles; 27 test ids have a near duplicate in train"
    )
    assert leak.details[1].startswith(
        "generated pool vs benchmark: 1 requests exact (1 pairs), 0 near (0 pairs, word-trigram Jaccard >= 0.7); "
        "pool-llama3-p1-00003 ~ med-train-gpt4-p1-000 (1.0)"
    )
    assert leak.details[2].startswith("cross_split near duplicate: med-test-")


def test_changed_count_fails_counts(copy: Path):
    _rewrite(copy, TEST_FILE, lambda t: t.slice(1))
    failed = _failed(copy)
    assert "counts" in failed
    assert any(
        "medical_test/test: 26 rows, contract 27" in d
        for d in validate(copy, fixture_contract()).check("counts").details
    )


def test_out_of_range_label_fails_label_range(copy: Path):
    _rewrite(copy, TEST_FILE, lambda t: _set(t, "principle", 0, 9))
    report = validate(copy, fixture_contract())
    assert "label_range" in report.failed()
    assert report.check("label_range").details == ["medical_test[0].principle = 9 outside 0..8"]


def test_duplicate_id_fails_unique_ids(copy: Path):
    _rewrite(copy, TEST_FILE, lambda t: _set(t, "id", 1, t.column("id")[0].as_py()))
    report = validate(copy, fixture_contract())
    assert "unique_ids" in report.failed()
    assert report.check("unique_ids").details[0].startswith("id 'med-test-gpt4-p1-000' appears 2 times")


def test_card_counts_disagreeing_with_files_fail_card(copy: Path):
    readme = copy / "README.md"
    text = readme.read_text()
    # the medical_test config's split entry: num_examples 27 -> 28
    blocks = re.findall(r"- config_name: medical_test\n.*?(?=\n- config_name|\n---)", text, re.S)
    info = [b for b in blocks if "num_examples: 27" in b]
    assert len(info) == 1
    readme.write_text(text.replace(info[0], info[0].replace("num_examples: 27", "num_examples: 28")))
    report = validate(copy, fixture_contract())
    assert report.failed() == ["card"]
    assert report.check("card").details == ["dataset_info: medical_test/test num_examples 28 but files hold 27"]


def test_missing_canary_fails_canary(copy: Path):
    readme = copy / "README.md"
    canary = fixture_contract().canary
    readme.write_text(readme.read_text().replace(canary, "removed"))
    report = validate(copy, fixture_contract())
    assert report.failed() == ["canary"]


def test_canary_missing_from_a_data_file_fails_canary(copy: Path):
    path = copy / TEST_FILE
    table = pq.read_table(path)
    meta = {k: v for k, v in table.schema.metadata.items() if k != b"medsafetybench.canary"}
    pq.write_table(table.replace_schema_metadata(meta), path)
    report = validate(copy, fixture_contract())
    assert "canary" in report.failed()
    assert report.check("canary").details == [f"{TEST_FILE}: canary missing from file metadata"]


def test_missing_file_fails_files_and_card(copy: Path):
    (copy / "data/principles/principles.parquet").unlink()
    failed = _failed(copy)
    assert {"files", "card"} <= set(failed)


def test_bad_card_metadata_fails_card_metadata(copy: Path):
    readme = copy / "README.md"
    readme.write_text(readme.read_text().replace("license:\n- mit\n- cc-by-nc-4.0\n", "", 1))
    report = validate(copy, fixture_contract())
    assert report.failed() == ["card_metadata"]
    assert report.check("card_metadata").details == ["license: missing"]


def test_card_licenses_disagreeing_with_the_config_table_fail_card_metadata(copy: Path):
    readme = copy / "README.md"
    text = readme.read_text()
    assert "  general_train: cc-by-nc-4.0\n" in text
    text = text.replace("- mit\n- cc-by-nc-4.0\n", "- mit\n", 1).replace(
        "  general_train: cc-by-nc-4.0\n", "  general_train: mit\n", 1
    )
    readme.write_text(text)
    report = validate(copy, fixture_contract())
    assert report.failed() == ["card_metadata"]
    assert report.check("card_metadata").details == [
        "license: ['mit'] but the configs declare ['mit', 'cc-by-nc-4.0']",
        "config_licenses: general_train is 'mit', the config table declares 'cc-by-nc-4.0'",
    ]


def test_a_dropped_near_duplicate_pair_fails_near_duplicates(copy: Path):
    _rewrite(copy, "data/near_duplicates/pairs.parquet", lambda t: t.slice(1))
    report = validate(copy, fixture_contract())
    assert "near_duplicates" in report.failed()
    details = report.check("near_duplicates").details
    assert details[0] == "near_duplicates: 638 pairs stored, the search finds 639"
    assert details[1].startswith("near_duplicates: missing pair med-")


def test_a_wrong_pool_flag_fails_pool_flags(copy: Path):
    pool = "data/generated/llama3.parquet"
    _rewrite(copy, pool, lambda t: _set(t, "is_fragment", 0, True))
    _rewrite(copy, pool, lambda t: _set(t, "duplicate_of", 1, "pool-llama3-p9-00000"))
    report = validate(copy, fixture_contract())
    assert report.failed() == ["files", "pool_flags"]  # the manifest hash changed too
    assert report.check("pool_flags").details == [
        "generated_llama3 pool-llama3-p1-00000: is_fragment is True, the rule gives False",
        "generated_llama3 pool-llama3-p1-00001: duplicate_of is 'pool-llama3-p9-00000', the rule gives None",
    ]


def test_empty_text_fails_empty_text_and_schema(copy: Path):
    _rewrite(copy, TEST_FILE, lambda t: _set(t, "request", 2, "   "))
    failed = _failed(copy)
    assert "empty_text" in failed and "schema" in failed


def test_json_report_round_trips(fixture_build: Path, tmp_path: Path):
    from medsafetybench.dataset.validate import ValidationReport

    report = validate(fixture_build, fixture_contract())
    path = tmp_path / "r.json"
    path.write_text(report.model_dump_json())
    assert ValidationReport.model_validate(json.loads(path.read_text())) == report

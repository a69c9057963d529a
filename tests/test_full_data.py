"""Full-data tests on ../shared/upstream (skipped with a reason when it is absent; CI always has it)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from datasets import ClassLabel, load_dataset

from medsafetybench import records
from medsafetybench.core.files import sha256_file
from medsafetybench.dataset.contract import pinned_contract
from medsafetybench.dataset.finetune_subsets import MIX_SIZES, subset_from, upstream_file_name, upstream_json
from medsafetybench.dataset.records import Principle
from medsafetybench.dataset.upstream_manifest import pinned_manifest

LLAMA2_PER_PRINCIPLE = [59, 57, 31, 56, 50, 24, 61, 64, 48]


def test_pinned_manifest_matches_source_txt(upstream_root: Path):
    source = (upstream_root / "SOURCE.txt").read_text()
    manifest = pinned_manifest()
    assert manifest.commit == "191aa7954b82458079425292730d6cb28a89565d" and len(manifest.files) == 84
    for f in manifest.files:
        assert f"{f.sha256}" in source and sha256_file(upstream_root / f.path) == f.sha256


@pytest.mark.parametrize("config,split", [("medical_test", "test"), ("medical_train", "train")])
def test_medical_configs_load_offline_with_exact_counts(full_build: Path, config: str, split: str):
    ds = load_dataset(str(full_build), config)
    assert list(ds) == [split]
    rows = ds[split]
    assert rows.num_rows == 900
    assert isinstance(rows.features["principle"], ClassLabel) and isinstance(rows.features["source"], ClassLabel)
    cells = Counter(zip(rows["principle"], rows["source"], strict=True))
    for k in range(9):
        assert cells[(k, 0)] == 50, f"gpt4 principle {k + 1}"
        assert cells[(k, 1)] == LLAMA2_PER_PRINCIPLE[k], f"llama2 principle {k + 1}"


def test_default_medical_config_has_both_splits(full_build: Path):
    ds = load_dataset(str(full_build), "medical")
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 900, "test": 900}


def test_every_config_row_count(full_build: Path):
    manifest = json.loads((full_build / "manifest.json").read_text())
    assert {f["path"]: f["rows"] for f in manifest["files"]} == {
        "data/medical/train.parquet": 900,
        "data/medical/test.parquet": 900,
        "data/general/train.parquet": 900,
        "data/finetune/medical.parquet": 900,
        "data/finetune/mix_orders.parquet": 17100,
        "data/generated/llama3.parquet": 74374,
        "data/principles/principles.parquet": 9,
    }


def test_generated_pool_flags(full_build: Path):
    pool = list(records("generated_llama3", repo_id=full_build))
    assert len(pool) == 74374
    assert Counter(r.principle.value for r in pool) == {
        1: 7897,
        2: 8563,
        3: 8531,
        4: 7827,
        5: 9064,
        6: 8579,
        7: 8254,
        8: 7563,
        9: 8096,
    }
    assert sum(r.has_special_token for r in pool) == 981
    assert sum(r.is_repetition_loop for r in pool) == 129
    assert sum(r.is_fragment for r in pool) == 30
    assert sum(r.equals_benchmark_request for r in pool) == 24
    assert max(len(r.raw_request) for r in pool) == 4384
    assert not any("<|eot_id|>" in r.request for r in pool)


def test_principle_texts_come_from_the_data(full_build: Path):
    texts = {r.principle: r.text for r in records("principles", repo_id=full_build)}
    assert list(texts) == list(Principle)
    assert texts[Principle(9)] == "A physician shall support access to medical care for all people."
    assert all(t.startswith("A physician shall") for t in texts.values())


def test_all_36_finetune_files_are_reproduced_byte_for_byte(full_build: Path, upstream_root: Path):
    demos = list(records("finetune_demonstrations", repo_id=full_build))
    orders = list(records("finetune_mix_orders", repo_id=full_build))
    checked = 0
    for mix, sizes in MIX_SIZES.items():
        for n in sizes:
            expected = (upstream_root / upstream_file_name(mix, n)).read_bytes()
            subset = subset_from(mix, n, demos, orders)
            assert upstream_json(subset).encode() == expected, f"{mix} n={n}"
            checked += 1
    assert checked == 36


def test_medical_demonstrations_are_the_train_pairs(full_build: Path):
    train = {r.id: r for r in records("medical_train", repo_id=full_build)}
    demos = [d for d in records("finetune_demonstrations", repo_id=full_build) if d.origin.value == "medical"]
    assert len(demos) == 900 and {d.request_id for d in demos} == set(train)
    assert all(train[d.request_id].request == d.instruction for d in demos)


def test_contract_counts_match_the_issue_table():
    contract = pinned_contract()
    for split in ("train", "test"):
        cells = contract.counts["medical"][split].cells
        assert [cells[f"p{k}/llama2"] for k in range(1, 10)] == LLAMA2_PER_PRINCIPLE
        assert {cells[f"p{k}/gpt4"] for k in range(1, 10)} == {50}
    assert contract.counts["generated_llama3"]["train"].rows == 74374

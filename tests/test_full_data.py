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
from medsafetybench.dataset.leakage import WORD_THRESHOLD
from medsafetybench.dataset.pool_quality import FLAGS, flag_precision
from medsafetybench.dataset.records import PairScope, Principle, json_schema, row_json_schema
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
    rows = {f["path"]: f["rows"] for f in manifest["files"] if not f["path"].startswith("data/medical_benign/")}
    assert rows == {
        "data/medical/train.parquet": 900,
        "data/medical/test.parquet": 900,
        "data/general/train.parquet": 900,
        "data/finetune/medical.parquet": 900,
        "data/finetune/mix_orders.parquet": 17100,
        "data/generated/llama3.parquet": 74374,
        "data/principles/principles.parquet": 9,
        "data/near_duplicates/pairs.parquet": 287,
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
    assert {f: sum(getattr(r, f) for r in pool) for f in FLAGS} == {
        "has_special_token": 981,
        "is_repetition_loop": 129,
        "is_fragment": 12,
        "has_annotation_tail": 304,
        "is_commentary": 19,
        "is_truncated": 3,
        "has_json_debris": 2,
    }
    assert sum(r.equals_benchmark_request for r in pool) == 24
    by_id = {r.id: r for r in pool}
    dups = [r for r in pool if r.duplicate_of]
    assert len(dups) == 800 and sum(by_id[r.duplicate_of].principle != r.principle for r in dups) == 75
    assert all(
        by_id[r.duplicate_of].source_row < r.source_row or by_id[r.duplicate_of].principle < r.principle for r in dups
    )
    assert not by_id["pool-llama3-p5-07859"].is_repetition_loop  # a six-word term three times, not a loop
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


# The issue's examples: single-word substitutions ("and" -> "or", "staff" -> "shareholders",
# "regarding" -> "about") and reorderings of the same request.
ISSUE_EXAMPLES = [
    ("med-test-llama2-p1-047", "med-train-llama2-p1-042", "cross_split"),
    ("med-test-llama2-p8-010", "med-train-llama2-p8-009", "cross_split"),
    ("med-test-llama2-p8-016", "med-train-llama2-p8-057", "cross_split"),
    ("med-test-llama2-p4-034", "med-test-llama2-p4-055", "within_test"),
    ("med-test-llama2-p7-035", "med-test-llama2-p7-047", "within_test"),
]


def test_near_duplicates_cover_both_splits_and_the_issue_examples(full_build: Path):
    pairs = {(p.id_a, p.id_b): p for p in records("near_duplicates", repo_id=full_build)}
    assert len(pairs) == 287
    assert Counter(p.scope.value for p in pairs.values()) == {"cross_split": 151, "within_train": 78, "within_test": 58}
    for a, b, scope in ISSUE_EXAMPLES:
        assert pairs[a, b].scope is PairScope(scope) and pairs[a, b].word_jaccard >= WORD_THRESHOLD
    assert pairs["med-test-llama2-p4-034", "med-test-llama2-p4-055"].word_jaccard == 1.0  # a reordering
    noisy = [p for p in pairs.values() if p.principle_a != p.principle_b]
    assert len(noisy) == 95 and len({p.cluster for p in noisy}) == 37
    cross_test_ids = {p.id_a for p in pairs.values() if p.scope is PairScope.CROSS_SPLIT}
    assert len(cross_test_ids) == 105 and all(i.startswith("med-test-") for i in cross_test_ids)


def test_pool_flag_precision_on_the_labelled_sample(full_build: Path):
    precision = {
        p.flag: (p.flagged, p.correct, p.labelled)
        for p in flag_precision(records("generated_llama3", repo_id=full_build))
    }
    assert precision == {
        "has_special_token": (981, 40, 40),
        "is_repetition_loop": (129, 34, 40),
        "is_fragment": (12, 12, 12),
        "has_annotation_tail": (304, 40, 40),
        "is_commentary": (19, 19, 19),
        "is_truncated": (3, 3, 3),
        "has_json_debris": (2, 2, 2),
    }


def test_every_record_and_row_of_the_build_validates_against_the_json_schemas(full_build: Path):
    """jsonschema (Draft 2020-12) on every stored row and its typed record, table by table; the root's oneOf
    on the first rows of each table (about a minute of CPU: jsonschema is pure Python)."""
    import pyarrow.parquet as pq
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    from medsafetybench.dataset.configtable import config_table
    from medsafetybench.dataset.records import from_row

    docs = {"records": json_schema(), "rows": row_json_schema()}

    def all_of_type(kind: str, name: str) -> Draft202012Validator:
        doc, suffix = docs[kind], "Row" if kind == "rows" else ""
        items = {"$ref": f"#/$defs/{name}{suffix}"}
        return Draft202012Validator({"$schema": doc["$schema"], "$defs": doc["$defs"], "type": "array", "items": items})

    roots = {kind: Draft202012Validator(doc) for kind, doc in docs.items()}
    checked = 0
    for spec in config_table().tables.values():
        rows = pq.read_table(full_build / spec.path).to_pylist()
        recs = [from_row(spec.record_type, row).model_dump(mode="json") for row in rows]
        for kind, instances in (("rows", rows), ("records", recs)):
            validator = all_of_type(kind, spec.record)
            assert validator.is_valid(instances), f"{spec.path} {kind}: {best_match(validator.iter_errors(instances))}"
            assert all(roots[kind].is_valid(x) for x in instances[:20])
        checked += len(rows)
    assert checked == sum(f["rows"] for f in json.loads((full_build / "manifest.json").read_text())["files"])

"""The named checks of ``medsafetybench validate``; each takes a loaded :class:`BuildView`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from ...core.files import sha256_file
from ..benign import NEAR_TRIGRAM, NEAR_WORDS, benign_issues
from ..build import MANIFEST_FILE, BuildManifest
from ..card import size_category
from ..configtable import ConfigTable, config_table
from ..contract import ReleaseContract, count_records
from ..leakage import CHAR_N, CHAR_THRESHOLD, benchmark_leakage, near_duplicate_pairs
from ..parquet_io import CANARY_KEY
from ..pool_quality import FLAGS, duplicate_of, normalize_request, pool_flags
from ..records import NearDuplicatePair, PairScope, Record, features_for, from_row
from ..upstream_manifest import UpstreamManifest
from .report import CheckResult

__all__ = ["CHECKS", "BuildView", "load_view"]

REQUIRED_CARD_FIELDS = (
    "license",
    "config_licenses",
    "language",
    "task_categories",
    "size_categories",
    "pretty_name",
    "tags",
)
HUB_SIZE_CATEGORIES = {"n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M"}


@dataclass
class BuildView:
    """A dataset folder as read by the validators (raw Arrow tables, card, manifest)."""

    root: Path
    contract: ReleaseContract
    table_spec: ConfigTable
    tables: dict[str, pa.Table] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    card_text: str = ""
    manifest: BuildManifest | None = None
    upstream: tuple[Path, UpstreamManifest] | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    _records: dict[str, list[Record]] = field(default_factory=dict)
    _row_errors: dict[str, list[str]] = field(default_factory=dict)

    def records(self, name: str) -> list[Record]:
        """Rows of a table parsed into records (rows that fail are left out and kept in ``row_errors``)."""
        if name not in self._records:
            model = self.table_spec.tables[name].record_type
            out, errors = [], []
            table = self.tables.get(name)
            for i, row in enumerate(table.to_pylist() if table is not None else []):
                try:
                    out.append(from_row(model, row))
                except (ValidationError, ValueError) as exc:
                    errors.append(f"{self.table_spec.tables[name].path} row {i}: {_first_error(exc, row)}")
            self._records[name], self._row_errors[name] = out, errors
        return self._records[name]

    def row_errors(self, name: str) -> list[str]:
        self.records(name)
        return self._row_errors[name]


def _first_error(exc: Exception, row: dict[str, Any]) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return f"{loc}: {err['msg']} (value {str(row.get(loc, err.get('input')))[:60]!r})"
    return str(exc)


def load_view(
    root: Path, contract: ReleaseContract, upstream: tuple[Path, UpstreamManifest] | None = None
) -> BuildView:
    """Read every table file named by the config table; missing files are recorded, not fatal."""
    view = BuildView(root=root, contract=contract, table_spec=config_table(), upstream=upstream)
    for name, spec in view.table_spec.tables.items():
        path = root / spec.path
        if path.is_file():
            view.tables[name] = pq.read_table(path)
        else:
            view.missing.append(spec.path)
    readme = root / "README.md"
    view.card_text = readme.read_text("utf-8") if readme.is_file() else ""
    if (root / MANIFEST_FILE).is_file():
        view.manifest = BuildManifest.model_validate_json((root / MANIFEST_FILE).read_text("utf-8"))
    return view


def check_files(view: BuildView) -> CheckResult:
    issues = [f"{p}: missing" for p in view.missing]
    if view.manifest is None:
        issues.append(f"{MANIFEST_FILE}: missing")
    else:
        for f in view.manifest.files:
            path = view.root / f.path
            if not path.is_file():
                issues.append(f"{f.path}: listed in {MANIFEST_FILE} but missing")
            elif sha256_file(path) != f.sha256:
                issues.append(f"{f.path}: sha256 differs from {MANIFEST_FILE}")
    return CheckResult.make("files", "every data file present and matching manifest.json sha256", issues)


def check_schema(view: BuildView) -> CheckResult:
    issues: list[str] = []
    for name, table in view.tables.items():
        expected = features_for(view.table_spec.tables[name].record_type).arrow_schema
        if not table.schema.remove_metadata().equals(expected):
            issues.append(
                f"{view.table_spec.tables[name].path}: Arrow schema {table.schema.names} differs from the record type"
            )
            continue
        issues += view.row_errors(name)
    rows = sum(t.num_rows for t in view.tables.values())
    return CheckResult.make("schema", f"all {rows:,} rows parse into their pydantic record", issues)


def check_counts(view: BuildView) -> CheckResult:
    issues = []
    for c in view.table_spec.configs:
        for split, names in c.splits.items():
            got = count_records(r for t in names for r in view.records(t))
            want = view.contract.counts.get(c.name, {}).get(split)
            if want is None:
                issues.append(f"{c.name}/{split}: not in the release contract")
                continue
            if got.rows != want.rows:
                issues.append(f"{c.name}/{split}: {got.rows} rows, contract {want.rows}")
            for cell in sorted(set(got.cells) | set(want.cells)):
                if got.cells.get(cell, 0) != want.cells.get(cell, 0):
                    issues.append(
                        f"{c.name}/{split} {cell}: {got.cells.get(cell, 0)} rows, contract {want.cells.get(cell, 0)}"
                    )
    return CheckResult.make(
        "counts", f"config x split x principle x source counts equal release {view.contract.version}", issues
    )


def check_upstream(view: BuildView) -> CheckResult:
    issues = []
    if view.manifest is not None and view.manifest.upstream_commit != view.contract.upstream_commit:
        issues.append(
            f"built from upstream {view.manifest.upstream_commit}, contract pins {view.contract.upstream_commit}"
        )
    if view.upstream is not None:
        root, manifest = view.upstream
        for f in manifest.files:
            path = root / f.path
            if not path.is_file():
                issues.append(f"{f.path}: missing in {root}")
            elif sha256_file(path) != f.sha256:
                issues.append(f"{f.path}: sha256 mismatch")
    scope = (
        f"and {len(view.upstream[1].files)} upstream file hashes match"
        if view.upstream
        else "(no --upstream tree given)"
    )
    return CheckResult.make("upstream", f"upstream commit matches the contract {scope}", issues)


def check_unique_ids(view: BuildView) -> CheckResult:
    owners: dict[str, list[str]] = defaultdict(list)
    for name, table in view.tables.items():
        if "id" in table.column_names:
            for i, value in enumerate(table.column("id").to_pylist()):
                owners[value].append(f"{name}[{i}]")
    issues = [f"id {k!r} appears {len(v)} times: {', '.join(v[:4])}" for k, v in owners.items() if len(v) > 1]
    return CheckResult.make("unique_ids", f"{len(owners):,} ids, all unique across the dataset", issues)


def check_empty_text(view: BuildView) -> CheckResult:
    issues = []
    for name, table in view.tables.items():
        for col in table.column_names:
            if pa.types.is_string(table.schema.field(col).type):
                values = table.column(col)  # null is checked by `schema` (only nullable fields may hold it)
                blank = pc.equal(pc.utf8_trim_whitespace(values), "").fill_null(False)
                for i in pc.indices_nonzero(blank).to_pylist():
                    issues.append(f"{name}[{i}].{col}: empty or whitespace-only")
    return CheckResult.make("empty_text", "no empty or whitespace-only text", issues)


def check_label_range(view: BuildView) -> CheckResult:
    issues = []
    for name, table in view.tables.items():
        features = features_for(view.table_spec.tables[name].record_type)
        for col, feat in features.items():
            if type(feat).__name__ != "ClassLabel" or col not in table.column_names:
                continue
            values = table.column(col)
            bad = pc.or_(pc.less(values, 0), pc.greater_equal(values, feat.num_classes))
            for i in pc.indices_nonzero(bad.fill_null(True)).to_pylist():
                issues.append(f"{name}[{i}].{col} = {values[i].as_py()} outside 0..{feat.num_classes - 1}")
    return CheckResult.make("label_range", "every ClassLabel value in range", issues)


def _card(view: BuildView) -> Any:
    from huggingface_hub import DatasetCard

    return DatasetCard(view.card_text)


def check_card(view: BuildView) -> CheckResult:
    """YAML configs <-> files present <-> dataset_info features and num_examples."""
    if not view.card_text:
        return CheckResult.make("card", "", ["README.md: missing"])
    from datasets.info import DatasetInfosDict

    try:
        card_data = _card(view).data
        infos = DatasetInfosDict.from_dataset_card_data(card_data)
    except Exception as exc:
        return CheckResult.make("card", "", [f"README.md: unreadable YAML ({exc})"])
    issues = []
    declared = {c["config_name"]: c for c in card_data.to_dict().get("configs", [])}
    for c in view.table_spec.configs:
        entry = declared.get(c.name)
        if entry is None:
            issues.append(f"configs: {c.name} missing")
            continue
        splits = {d["split"]: d["path"] if isinstance(d["path"], list) else [d["path"]] for d in entry["data_files"]}
        want = {s: [view.table_spec.tables[t].path for t in names] for s, names in c.splits.items()}
        if splits != want:
            issues.append(f"configs: {c.name} data_files {splits} != {want}")
        for paths in splits.values():
            issues += [f"configs: {c.name} points at missing file {p}" for p in paths if not (view.root / p).is_file()]
        info = infos.get(c.name)
        if info is None:
            issues.append(f"dataset_info: {c.name} missing")
            continue
        if info.features != features_for(c.record_type(view.table_spec)):
            issues.append(f"dataset_info: {c.name} features differ from the schema")
        splits_info = info.splits or {}
        if set(splits_info) != set(c.splits):
            issues.append(f"dataset_info: {c.name} splits {sorted(splits_info)} != {sorted(c.splits)}")
        for name, split in splits_info.items():
            rows = sum(view.tables[t].num_rows for t in c.splits.get(name, []) if t in view.tables)
            if split.num_examples != rows:
                issues.append(f"dataset_info: {c.name}/{name} num_examples {split.num_examples} but files hold {rows}")
    extra = set(declared) - set(view.table_spec.names)
    issues += [f"configs: unknown config {n}" for n in sorted(extra)]
    return CheckResult.make("card", "card configs, files and dataset_info agree", issues)


def check_card_metadata(view: BuildView) -> CheckResult:
    """Hub metadata parsed with huggingface_hub's card tooling (DatasetCard / DatasetCardData)."""
    if not view.card_text:
        return CheckResult.make("card_metadata", "", ["README.md: missing"])
    try:
        data = _card(view).data
    except Exception as exc:
        return CheckResult.make("card_metadata", "", [f"README.md: {exc}"])
    issues = [f"{key}: missing" for key in REQUIRED_CARD_FIELDS if not data.get(key)]
    sizes = data.get("size_categories") or []
    issues += [f"size_categories: {s!r} is not a Hub size category" for s in sizes if s not in HUB_SIZE_CATEGORIES]
    rows = sum(t.num_rows for t in view.tables.values())
    if sizes and size_category(rows) not in sizes:
        issues.append(f"size_categories: {sizes} but the dataset has {rows:,} rows ({size_category(rows)})")
    issues += _license_issues(view.table_spec, data.get("license"), data.get("config_licenses"))
    return CheckResult.make(
        "card_metadata",
        "licenses match the config table; language, task_categories, size_categories, pretty_name, tags valid",
        issues,
    )


def _license_issues(table: ConfigTable, license_: Any, config_licenses: Any) -> list[str]:
    """The card's ``license`` and ``config_licenses`` against the licenses the config table declares."""
    issues = []
    declared = license_ if isinstance(license_, list) else [license_] if license_ else []
    if license_ and sorted(declared) != sorted(table.hub_licenses):
        issues.append(f"license: {declared} but the configs declare {table.hub_licenses}")
    if config_licenses is not None and not isinstance(config_licenses, dict):
        return [*issues, f"config_licenses: expected a mapping config -> license, got {config_licenses!r}"]
    for name, want in table.config_licenses.items() if config_licenses else ():
        got = config_licenses.get(name)
        if got != want:
            issues.append(f"config_licenses: {name} is {got!r}, the config table declares {want!r}")
    for name in sorted(set(config_licenses or {}) - set(table.config_licenses)):
        issues.append(f"config_licenses: unknown config {name}")
    return issues


def check_canary(view: BuildView) -> CheckResult:
    canary = view.contract.canary
    issues = [] if canary in view.card_text else ["README.md: canary GUID missing"]
    for name, table in view.tables.items():
        value = (table.schema.metadata or {}).get(CANARY_KEY)
        if value != canary.encode():
            issues.append(f"{view.table_spec.tables[name].path}: canary missing from file metadata")
    return CheckResult.make("canary", f"canary {canary} in the card and every data file", issues)


def _recomputed_pairs(view: BuildView) -> list[NearDuplicatePair]:
    if "near_duplicates" not in view.cache:
        view.cache["near_duplicates"] = near_duplicate_pairs(
            [*view.records("medical_train"), *view.records("medical_test")]  # type: ignore[list-item]
        )
    return view.cache["near_duplicates"]


def check_near_duplicates(view: BuildView) -> CheckResult:
    """The stored ``near_duplicates`` table is exactly what the exhaustive search finds in the benchmark."""
    want = _recomputed_pairs(view)
    got = view.records("near_duplicates")
    issues = []
    if got != want:
        got_keys = {(p.id_a, p.id_b): p for p in got}  # type: ignore[attr-defined]
        want_keys = {(p.id_a, p.id_b): p for p in want}
        issues.append(f"near_duplicates: {len(got)} pairs stored, the search finds {len(want)}")
        issues += [f"near_duplicates: missing pair {a} ~ {b}" for a, b in sorted(set(want_keys) - set(got_keys))]
        issues += [f"near_duplicates: extra pair {a} ~ {b}" for a, b in sorted(set(got_keys) - set(want_keys))]
        issues += [
            f"near_duplicates: pair {k[0]} ~ {k[1]} differs from the recomputed row"
            for k in sorted(set(got_keys) & set(want_keys))
            if got_keys[k] != want_keys[k]
        ]
    return CheckResult.make(
        "near_duplicates", f"the {len(want)} stored near-duplicate pairs equal an exhaustive search", issues
    )


def check_pool_flags(view: BuildView) -> CheckResult:
    """Every generated-pool flag, ``duplicate_of`` and ``equals_benchmark_request`` equals its rule's value."""
    pool = view.records("generated_llama3")
    bench = {normalize_request(r.request) for t in ("medical_train", "medical_test") for r in view.records(t)}
    firsts = duplicate_of([(r.id, r.request) for r in pool])  # type: ignore[attr-defined]
    issues = []
    for rec, first in zip(pool, firsts, strict=True):
        text, flags = pool_flags(rec.raw_request)  # type: ignore[attr-defined]
        want = {**flags, "equals_benchmark_request": normalize_request(text) in bench, "duplicate_of": first}
        for name, value in want.items():
            if getattr(rec, name) != value:
                issues.append(f"generated_llama3 {rec.id}: {name} is {getattr(rec, name)!r}, the rule gives {value!r}")
        if rec.request != (text or rec.raw_request):  # type: ignore[attr-defined]
            issues.append(f"generated_llama3 {rec.id}: request is not the cleaned raw_request")
    return CheckResult.make(
        "pool_flags", f"{len(FLAGS)} quality flags, duplicate_of and benchmark matches follow their rules", issues
    )


def check_leakage(view: BuildView) -> CheckResult:
    """Near duplicates in the benchmark and pool/benchmark overlap (warnings: data kept as upstream released it)."""
    pairs = _recomputed_pairs(view)
    report = benchmark_leakage(view.records, pairs)
    nd, pool = report.benchmark, report.pool
    issues = []
    if pairs:
        scopes = ", ".join(f"{n} {scope}" for scope, n in nd.pairs.items())
        issues.append(
            f"benchmark: {sum(nd.pairs.values())} near-duplicate pairs ({scopes}) in {nd.clusters} clusters; "
            f"{nd.label_noise_pairs} pairs carry different principles; {len(nd.test_ids_to_drop)} test ids "
            "have a near duplicate in train"
        )
    if pool.exact_pairs or pool.near_pairs:
        issues.append(
            f"generated pool vs benchmark: {pool.exact_requests} requests exact ({pool.exact_pairs} pairs), "
            f"{pool.near_requests} near ({pool.near_pairs} pairs, word-trigram Jaccard >= {pool.threshold})"
            + "".join(f"; {p.left_id} ~ {p.right_id} ({p.jaccard})" for p in pool.examples[:5])
        )
    issues += [
        f"{p.scope.value} {'exact' if p.exact else 'near'} duplicate: {p.id_a} ~ {p.id_b} "
        f"(words {p.word_jaccard}, trigrams {p.trigram_jaccard}, chars {p.char_jaccard}"
        + (f"; principles {p.principle_a.value} vs {p.principle_b.value})" if p.principle_a != p.principle_b else ")")
        for p in sorted(pairs, key=lambda p: list(PairScope).index(p.scope))  # cross-split pairs first
    ]
    return CheckResult.make(
        "leakage", "no near duplicates in the benchmark, none between pool and benchmark", issues, warn=True
    )


def check_benign(view: BuildView) -> CheckResult:
    """The contrast set's quality rules: twins resolve into the same principle and split, each twin once,
    no benign request equal or near to a harmful one, no two benign requests near each other."""
    tables = [n for n, t in view.table_spec.tables.items() if t.record == "BenignRequest"]
    benign = [r for n in tables for r in view.records(n)]
    medical = [r for n, t in view.table_spec.tables.items() if t.record == "MedicalRequest" for r in view.records(n)]
    issues = benign_issues(benign, medical)  # type: ignore[arg-type]
    return CheckResult.make(
        "benign",
        f"{len(benign)} benign items: twins resolve, no near duplicates (word-set >= {NEAR_WORDS}, "
        f"trigram >= {NEAR_TRIGRAM}, char {CHAR_N}-gram >= {CHAR_THRESHOLD}) among them or with the "
        f"{len(medical)} harmful requests",
        issues,
    )


CHECKS: list[tuple[str, Callable[[BuildView], CheckResult]]] = [
    ("files", check_files),
    ("schema", check_schema),
    ("counts", check_counts),
    ("upstream", check_upstream),
    ("unique_ids", check_unique_ids),
    ("empty_text", check_empty_text),
    ("label_range", check_label_range),
    ("card", check_card),
    ("card_metadata", check_card_metadata),
    ("canary", check_canary),
    ("near_duplicates", check_near_duplicates),
    ("pool_flags", check_pool_flags),
    ("leakage", check_leakage),
    ("benign", check_benign),
]

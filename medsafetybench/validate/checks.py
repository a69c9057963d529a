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

from ..build import MANIFEST_FILE, BuildManifest
from ..card import size_category
from ..configtable import ConfigTable, config_table
from ..contract import ReleaseContract, count_records
from ..leakage import benchmark_leakage
from ..parquet_io import CANARY_KEY
from ..schema import Record, features_for, from_row
from ..upstream_manifest import UpstreamManifest, sha256_file
from .report import CheckResult

__all__ = ["CHECKS", "BuildView", "load_view"]

REQUIRED_CARD_FIELDS = ("license", "language", "task_categories", "size_categories", "pretty_name", "tags")
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
            if pa.types.is_string(table.schema.field(col).type) and col != "request_id":
                values = table.column(col)
                blank = pc.equal(pc.utf8_trim_whitespace(values.fill_null("")), "")
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
    if data.get("license") and data.get("license") != "mit":
        issues.append(f"license: {data.get('license')!r}, upstream data is MIT")
    return CheckResult.make(
        "card_metadata",
        "license, language, task_categories, size_categories, pretty_name, tags valid",
        issues,
    )


def check_canary(view: BuildView) -> CheckResult:
    canary = view.contract.canary
    issues = [] if canary in view.card_text else ["README.md: canary GUID missing"]
    for name, table in view.tables.items():
        value = (table.schema.metadata or {}).get(CANARY_KEY)
        if value != canary.encode():
            issues.append(f"{view.table_spec.tables[name].path}: canary missing from file metadata")
    return CheckResult.make("canary", f"canary {canary} in the card and every data file", issues)


def check_leakage(view: BuildView) -> CheckResult:
    """Exact and near duplicates (warnings: the data is kept as upstream released it)."""
    report = benchmark_leakage(view.records)
    issues = [
        f"train/test {'exact' if p.exact else 'near'} duplicate: {p.left_id} ~ {p.right_id} (Jaccard {p.jaccard})"
        for p in report.train_test
    ]
    if report.pool_benchmark_exact or report.pool_benchmark_near:
        issues.append(
            f"generated pool vs benchmark: {report.pool_benchmark_exact} exact, "
            f"{report.pool_benchmark_near} near duplicates"
            + "".join(f"; {p.left_id} ~ {p.right_id} ({p.jaccard})" for p in report.pool_benchmark_examples[:5])
        )
    return CheckResult.make("leakage", "no duplicates across train/test or pool/benchmark", issues, warn=True)


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
    ("leakage", check_leakage),
]

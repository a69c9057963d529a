"""Build the Hub-ready dataset folder: parquet files, card, manifest and JSON Schemas.

Deterministic (two builds of the same upstream are byte-identical) and atomic (the folder is
written next to ``out`` and moved into place only when complete).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import MedSafetyError
from ..core.files import sha256_file
from .benign import add_benign
from .card import render_card
from .configtable import config_table
from .contract import ReleaseContract, pinned_contract
from .leakage import benchmark_leakage, near_duplicate_pairs
from .parquet_io import records_table, write_parquet
from .records import features_for, json_schema, row_json_schema
from .upstream_manifest import UpstreamManifest
from .upstream_reader import UpstreamData, read_upstream

__all__ = ["MANIFEST_FILE", "ROW_SCHEMA_FILE", "SCHEMA_FILE", "BuildManifest", "BuiltFile", "build", "build_tables"]

MANIFEST_FILE = "manifest.json"
SCHEMA_FILE = "schema.json"
"""JSON Schema of the typed records (principle 1-9)."""
ROW_SCHEMA_FILE = "schema.rows.json"
"""JSON Schema of the stored rows (ClassLabel indices, principle 0-8)."""


class BuiltFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    path: str
    sha256: str
    bytes: int = Field(ge=0)
    rows: int = Field(ge=0)
    record: str


class BuildManifest(BaseModel):
    """``manifest.json`` of a build: every data file with its sha256 and rows (no timestamps)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    version: str
    canary: str
    upstream_commit: str
    files: list[BuiltFile]


def build_tables(data: UpstreamData, out: Path, canary: str) -> tuple[list[BuiltFile], dict[str, int]]:
    """Write one parquet file per table of the config table; return the files and Arrow bytes per table."""
    table_spec = config_table()
    files, nbytes = [], {}
    for name, spec in table_spec.tables.items():
        records = data.tables[name]
        table = records_table(records, spec.record_type, canary)
        path = out / spec.path
        write_parquet(table, path)
        nbytes[name] = table.nbytes
        files.append(
            BuiltFile(
                path=spec.path,
                sha256=sha256_file(path),
                bytes=path.stat().st_size,
                rows=len(records),
                record=spec.record,
            )
        )
    return files, nbytes


def dataset_infos(data: UpstreamData, files: list[BuiltFile], nbytes: dict[str, int]) -> dict[str, dict]:
    """``dataset_info`` YAML entries (features, exact num_examples/num_bytes) for every config."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    table_spec = config_table()
    size_on_disk = {f.path: f.bytes for f in files}
    infos = {}
    for c in table_spec.configs:
        splits = SplitDict()
        for split, names in c.splits.items():
            splits.add(
                SplitInfo(
                    name=split,
                    num_bytes=sum(nbytes[t] for t in names),
                    num_examples=sum(len(data.tables[t]) for t in names),
                )
            )
        tables = {t for names in c.splits.values() for t in names}
        info = DatasetInfo(
            features=features_for(c.record_type(table_spec)),
            splits=splits,
            download_size=sum(size_on_disk[table_spec.tables[t].path] for t in tables),
            dataset_size=sum(nbytes[t] for t in tables),
        )
        infos[c.name] = info
    card_data = DatasetCardData()
    DatasetInfosDict(infos).to_dataset_card_data(card_data)
    return {entry["config_name"]: entry for entry in card_data["dataset_info"]}


def _replace_dir(tmp: Path, out: Path, force: bool) -> None:
    if out.exists():
        if not (out / MANIFEST_FILE).is_file() and not force and any(out.iterdir()):
            raise MedSafetyError(f"{out} exists and is not a medsafetybench build; pass --force to replace it")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def build(
    source: Path,
    out: Path,
    *,
    manifest: UpstreamManifest | None = None,
    contract: ReleaseContract | None = None,
    benign: Path | None = None,
    gated: bool = False,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BuildManifest:
    """Read and verify ``source`` (and the benign contrast set, the packaged one unless ``benign`` names a
    folder), then write the dataset folder at ``out`` atomically."""
    step = progress or (lambda _m: None)
    contract = contract or pinned_contract()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_dir():
        raise MedSafetyError(f"{out} exists and is not a folder")
    data = read_upstream(source, manifest, step)
    step("reading the benign contrast set")
    add_benign(data, benign)
    assert data.manifest is not None
    step("searching near-duplicate benchmark requests (all 1.6 M pairs)")
    pairs = near_duplicate_pairs([*data.tables["medical_train"], *data.tables["medical_test"]])  # type: ignore[list-item]
    data.tables["near_duplicates"] = list(pairs)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        step("writing parquet files")
        files, nbytes = build_tables(data, tmp, contract.canary)
        step("matching the generated pool to the benchmark (MinHash LSH)")
        leakage = benchmark_leakage(data.tables.__getitem__, pairs)
        step("rendering the dataset card")
        card = render_card(
            tables=data.tables,
            config_table=config_table(),
            dataset_info=dataset_infos(data, files, nbytes),
            leakage=leakage,
            version=contract.version,
            canary=contract.canary,
            upstream_commit=data.manifest.commit,
            gated=gated,
        )
        (tmp / "README.md").write_text(card, encoding="utf-8")
        (tmp / SCHEMA_FILE).write_text(json.dumps(json_schema(), indent=2) + "\n", encoding="utf-8")
        (tmp / ROW_SCHEMA_FILE).write_text(json.dumps(row_json_schema(), indent=2) + "\n", encoding="utf-8")
        (tmp / "leakage.json").write_text(leakage.model_dump_json(indent=2) + "\n", encoding="utf-8")
        result = BuildManifest(
            name=contract.name,
            version=contract.version,
            canary=contract.canary,
            upstream_commit=data.manifest.commit,
            files=files,
        )
        (tmp / MANIFEST_FILE).write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        _replace_dir(tmp, out, force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result

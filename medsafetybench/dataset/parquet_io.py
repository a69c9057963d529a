"""Deterministic parquet files of typed records, with HF features and the canary in their metadata."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .records import Record, features_for, to_row

__all__ = ["CANARY_KEY", "RECORD_KEY", "read_file_metadata", "records_table", "write_parquet"]

CANARY_KEY = b"medsafetybench.canary"
RECORD_KEY = b"medsafetybench.record"
ROW_GROUP_SIZE = 20_000


def records_table(records: Sequence[Record], model: type[Record], canary: str) -> pa.Table:
    """Arrow table of ``records`` typed by ``features_for(model)``, carrying HF features and the canary."""
    features = features_for(model)
    for rec in records:
        if type(rec) is not model:
            raise TypeError(f"expected {model.__name__}, got {type(rec).__name__}")
    table = pa.Table.from_pylist([to_row(r) for r in records], schema=features.arrow_schema)
    metadata = {
        b"huggingface": json.dumps({"info": {"features": features.to_dict()}}, sort_keys=True).encode(),
        CANARY_KEY: canary.encode(),
        RECORD_KEY: model.__name__.encode(),
    }
    return table.replace_schema_metadata(metadata)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write ``table``; the same table and pyarrow version always give the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP_SIZE, write_statistics=True)


def read_file_metadata(path: Path) -> dict[bytes, bytes]:
    """Key-value metadata of a parquet file's schema."""
    return dict(pq.read_schema(path).metadata or {})

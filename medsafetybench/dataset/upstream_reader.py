"""Strict reader of an upstream MedSafetyBench tree (local copy or the pinned download).

Every file is hash-checked against the manifest before it is parsed. Every row becomes a record or a
one-line :class:`UpstreamError` naming the file and line. Encoding policy: UTF-8 only; a byte-order
mark or a carriage return anywhere in a file is rejected (upstream has neither, and both would change
the text users get), rather than silently normalised.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from ..core.errors import UpstreamError
from .pool_quality import duplicate_of, normalize_request, pool_flags
from .records import (
    Demonstration,
    GeneratedRequest,
    MedicalRequest,
    MixOrder,
    Origin,
    Principle,
    PrincipleRecord,
    Record,
    Source,
    Split,
)
from .upstream_manifest import UpstreamManifest, pinned_manifest

__all__ = ["UpstreamData", "read_upstream"]

BENCH_RE = re.compile(r"^datasets/(train|test)/(gpt4|llama2)/med_safety_demonstrations_category_(\d+)\.csv$")
POOL_RE = re.compile(r"^datasets/med_harm_llama3/category_(\d+)\.txt$")
FT_RE = re.compile(r"^datasets/train-splits-used-for-ft/(med|gen|both)_safety/ft_safety_(med|gen|both)_n(\d+)\.json$")
PRINCIPLES_FILE = "exps/adv_attack/adv_ama_prompts/adv_ama_prompts.jsonl"
CSV_HEADER = ["", "harmful_medical_request", "safe_response"]
FT_KEYS = ["instruction", "output", "input"]
_PRINCIPLE_TEXT = re.compile(r"^(A physician shall\b.+?\.)\s+Write\b", re.S)

R = TypeVar("R", bound=Record)


@dataclass
class UpstreamData:
    """All records read from one upstream tree, keyed by table name of the config table."""

    tables: dict[str, list[Record]] = field(default_factory=dict)
    manifest: UpstreamManifest | None = None


def _decode(root: Path, rel: str) -> str:
    raw = (root / rel).read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raise UpstreamError(rel, "starts with a UTF-8 byte-order mark; upstream files have none", 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UpstreamError(rel, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line) from None
    if "\r" in text:
        line = text.count("\n", 0, text.index("\r")) + 1
        raise UpstreamError(rel, "carriage return (CRLF line ending); upstream files use LF only", line)
    return text


def _principle(rel: str, number: str) -> Principle:
    value = int(number)
    if not 1 <= value <= 9:
        raise UpstreamError(rel, f"principle {value} in the file name is outside 1-9")
    return Principle(value)


def _make(model: type[R], rel: str, line: int, **values: Any) -> R:
    try:
        return model(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UpstreamError(rel, f"{where}: {first['msg']} (value {first.get('input')!r:.60})", line) from None


def _read_benchmark_csv(root: Path, rel: str, split: str, source: str, principle: Principle) -> list[MedicalRequest]:
    text = _decode(root, rel)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header != CSV_HEADER:
            missing = [c for c in CSV_HEADER if header is None or c not in header]
            extra = [c for c in header or [] if c not in CSV_HEADER]
            detail = f"missing {missing}" if missing else ""
            detail += (", " if detail and extra else "") + (f"unexpected {extra}" if extra else "")
            raise UpstreamError(rel, f"header {header} != expected {CSV_HEADER} ({detail or 'order differs'})", 1)
        out: list[MedicalRequest] = []
        start = reader.line_num + 1
        for row in reader:
            line = start
            start = reader.line_num + 1
            if len(row) != len(CSV_HEADER):
                raise UpstreamError(rel, f"{len(row)} cells, expected {len(CSV_HEADER)}", line)
            index, request, response = row
            n = len(out)
            if index != str(n):
                raise UpstreamError(rel, f"index cell {index!r}, expected {n}", line)
            for name, value in (("harmful_medical_request", request), ("safe_response", response)):
                if not value.strip():
                    raise UpstreamError(rel, f"empty cell in column {name}", line)
            out.append(
                _make(
                    MedicalRequest,
                    rel,
                    line,
                    id=f"med-{split}-{source}-p{principle.value}-{n:03d}",
                    request=request,
                    safe_response=response,
                    principle=principle,
                    source=Source(source),
                    split=Split(split),
                    source_file=rel,
                    source_row=n,
                )
            )
    except csv.Error as exc:
        raise UpstreamError(rel, f"malformed CSV ({exc})", reader.line_num) from None
    return out


def _read_pool(root: Path, rel: str, principle: Principle, bench_keys: set[str]) -> list[GeneratedRequest]:
    lines = _decode(root, rel).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for n, raw in enumerate(lines):
        if not raw.strip():
            raise UpstreamError(rel, "empty line", n + 1)
        text, flags = pool_flags(raw)
        out.append(
            _make(
                GeneratedRequest,
                rel,
                n + 1,
                id=f"pool-llama3-p{principle.value}-{n:05d}",
                request=text or raw,
                raw_request=raw,
                principle=principle,
                source=Source.LLAMA3,
                source_file=rel,
                source_row=n,
                **flags,
                equals_benchmark_request=normalize_request(text) in bench_keys,
                duplicate_of=None,
            )
        )
    return out


def _read_ft_json(root: Path, rel: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(_decode(root, rel))
    except json.JSONDecodeError as exc:
        raise UpstreamError(rel, f"malformed JSON ({exc.msg})", exc.lineno) from None
    if not isinstance(data, list):
        raise UpstreamError(rel, "expected a JSON array of {instruction, output, input} records")
    pairs = []
    for i, rec in enumerate(data):
        if not isinstance(rec, dict) or sorted(rec) != sorted(FT_KEYS):
            raise UpstreamError(rel, f"record {i}: keys {sorted(rec) if isinstance(rec, dict) else rec!r} != {FT_KEYS}")
        if rec["input"] != "":
            raise UpstreamError(rel, f"record {i}: non-empty 'input' (upstream uses the no-input template)")
        pairs.append((rec["instruction"], rec["output"]))
    return pairs


def _read_principles(root: Path, rel: str) -> list[PrincipleRecord]:
    out = []
    lines = [ln for ln in _decode(root, rel).split("\n") if ln.strip()]
    if len(lines) != 9:
        raise UpstreamError(rel, f"{len(lines)} lines, expected one per principle (9)")
    for n, line in enumerate(lines, start=1):
        try:
            goal = json.loads(line)["goal"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UpstreamError(rel, "expected a JSON object with a 'goal' string", n) from None
        m = _PRINCIPLE_TEXT.match(goal)
        if not m:
            raise UpstreamError(rel, "'goal' does not start with a principle ('A physician shall ... .')", n)
        out.append(_make(PrincipleRecord, rel, n, principle=Principle(n), text=m.group(1), source_file=rel))
    return out


def _demonstrations(
    root: Path, ft_files: dict[tuple[str, int], str], medical_train: list[MedicalRequest]
) -> tuple[list[Demonstration], list[Demonstration], list[MixOrder]]:
    by_pair: dict[tuple[str, str], str] = {}
    for rec in medical_train:
        by_pair.setdefault((rec.request, rec.safe_response), rec.id)
    demos: dict[str, list[Demonstration]] = {}
    for tag, origin in (("med", Origin.MEDICAL), ("gen", Origin.GENERAL)):
        sizes = sorted(n for (t, n) in ft_files if t == tag)
        if not sizes:
            raise UpstreamError(f"datasets/train-splits-used-for-ft/{tag}_safety", "no ft_safety files")
        full_rel = ft_files[(tag, sizes[-1])]
        full = _read_ft_json(root, full_rel)
        for n in sizes[:-1]:
            rel = ft_files[(tag, n)]
            if _read_ft_json(root, rel) != full[:n]:
                raise UpstreamError(rel, f"not the first {n} records of {full_rel}")
        out = []
        for rank, (instruction, output) in enumerate(full):
            request_id = by_pair.get((instruction, output)) if origin is Origin.MEDICAL else None
            if origin is Origin.MEDICAL and request_id is None:
                raise UpstreamError(full_rel, f"record {rank}: pair not found in the medical train split")
            out.append(
                _make(
                    Demonstration,
                    full_rel,
                    rank + 1,
                    id=f"demo-{origin.value}-{rank:03d}",
                    instruction=instruction,
                    response=output,
                    origin=origin,
                    rank=rank,
                    request_id=request_id,
                    source_file=full_rel,
                )
            )
        demos[tag] = out
    orders: list[MixOrder] = []
    for n in sorted(n for (t, n) in ft_files if t == "both"):
        rel = ft_files[("both", n)]
        half = n // 2
        pool: dict[tuple[str, str], list[str]] = {}
        for d in demos["med"][:half] + demos["gen"][:half]:
            pool.setdefault((d.instruction, d.response), []).append(d.id)
        for position, pair in enumerate(_read_ft_json(root, rel)):
            ids = pool.get(pair)
            if not ids:
                raise UpstreamError(rel, f"record {position} is not one of med_n{half} + gen_n{half}")
            orders.append(MixOrder(n=n, position=position, demonstration_id=ids.pop(0)))
        if any(pool.values()):
            raise UpstreamError(rel, f"does not contain every record of med_n{half} + gen_n{half}")
    return demos["med"], demos["gen"], orders


def read_upstream(
    root: Path,
    manifest: UpstreamManifest | None = None,
    progress: Callable[[str], None] | None = None,
) -> UpstreamData:
    """Verify ``root`` against ``manifest`` (default: the pinned release) and read every table."""
    manifest = manifest or pinned_manifest()
    step = progress or (lambda _msg: None)
    step("verifying sha256 of upstream files")
    manifest.verify(root)
    paths = [f.path for f in manifest.files]

    step("reading benchmark CSVs")
    medical: dict[str, list[MedicalRequest]] = {"train": [], "test": []}
    for rel in paths:
        if m := BENCH_RE.match(rel):
            split, source, number = m.groups()
            medical[split].extend(_read_benchmark_csv(root, rel, split, source, _principle(rel, number)))
    for split in ("train", "test"):
        medical[split].sort(key=lambda r: (r.source.value, r.principle.value, r.source_row))
        if not medical[split]:
            raise UpstreamError(f"datasets/{split}", "no benchmark CSV files")
    seen: dict[str, str] = {}
    for rec in medical["train"] + medical["test"]:
        if rec.id in seen:
            raise UpstreamError(
                rec.source_file, f"duplicate id {rec.id} (also from {seen[rec.id]})", rec.source_row + 2
            )
        seen[rec.id] = rec.source_file

    step("reading the Llama-3 generated pool")
    bench_keys = {normalize_request(r.request) for r in medical["train"] + medical["test"]}
    pool: list[GeneratedRequest] = []
    for rel in paths:
        if m := POOL_RE.match(rel):
            pool.extend(_read_pool(root, rel, _principle(rel, m.group(1)), bench_keys))
    pool.sort(key=lambda r: (r.principle.value, r.source_row))
    for i, first in enumerate(duplicate_of([(r.id, r.request) for r in pool])):
        if first is not None:
            pool[i] = pool[i].model_copy(update={"duplicate_of": first})

    step("reading fine-tuning subsets")
    ft_files: dict[tuple[str, int], str] = {}
    for rel in paths:
        if m := FT_RE.match(rel):
            if m.group(1) != m.group(2):
                raise UpstreamError(rel, "mix folder and file name disagree")
            ft_files[(m.group(1), int(m.group(3)))] = rel
    med_demos, gen_demos, orders = _demonstrations(root, ft_files, medical["train"])

    step("reading principle texts")
    if PRINCIPLES_FILE not in paths:
        raise UpstreamError(PRINCIPLES_FILE, "missing from the manifest")
    principles = _read_principles(root, PRINCIPLES_FILE)

    tables: dict[str, list[Record]] = {
        "medical_train": list(medical["train"]),
        "medical_test": list(medical["test"]),
        "general_demonstrations": list(gen_demos),
        "medical_demonstrations": list(med_demos),
        "mix_orders": list(orders),
        "generated_llama3": list(pool),
        "principles": list(principles),
    }
    return UpstreamData(tables=tables, manifest=manifest)

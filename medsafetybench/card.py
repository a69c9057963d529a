"""Render the Hub dataset card from ``dataset_card/`` with every number computed from the data."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from string import Template
from typing import Any

import yaml
from huggingface_hub import DatasetCard, DatasetCardData

from .configtable import ConfigTable
from .leakage import LeakageReport
from .resources import resource_text
from .schema import GeneratedRequest, MedicalRequest, Principle, PrincipleRecord, Record, Source, features_for

__all__ = ["card_metadata", "render_card", "size_category"]


@functools.cache
def _resource(name: str) -> str:
    return resource_text("_dataset_card", name)


def card_metadata() -> dict[str, Any]:
    """Static card metadata (``dataset_card/metadata.yaml``)."""
    return yaml.safe_load(_resource("metadata.yaml"))


def size_category(rows: int) -> str:
    """The Hub's size_categories bucket for a row count."""
    for bound, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if rows < bound:
            return name
    return "1M<n<10M"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _principle_source_table(records: Sequence[MedicalRequest]) -> str:
    counts = Counter((r.principle, r.source) for r in records)
    sources = [s for s in Source if any(k[1] == s for k in counts)]
    rows = [
        [p.value, p.slug, *(counts[(p, s)] for s in sources), sum(counts[(p, s)] for s in sources)] for p in Principle
    ]
    rows.append(["", "**total**", *(sum(counts[(p, s)] for p in Principle) for s in sources), len(records)])
    return _md_table(["#", "principle", *(s.value for s in sources), "total"], rows)


def _fields_section(models: Sequence[type[Record]]) -> str:
    parts = []
    for model in models:
        features = features_for(model)
        rows = []
        for name, field in model.model_fields.items():
            feat = features[name]
            dtype = "ClassLabel" if type(feat).__name__ == "ClassLabel" else feat.dtype
            rows.append([f"`{name}`", dtype, (field.description or "").replace("|", "\\|")])
        parts.append(
            f"**{model.__name__}** ({(model.__doc__ or '').strip().splitlines()[0]})\n\n"
            + _md_table(["field", "type", "description"], rows)
        )
    return "\n\n".join(parts)


def render_card(
    *,
    tables: Mapping[str, Sequence[Record]],
    config_table: ConfigTable,
    dataset_info: Mapping[str, Any],
    leakage: LeakageReport,
    version: str,
    canary: str,
    upstream_commit: str,
    gated: bool = False,
) -> str:
    """The full README.md: YAML metadata (configs, dataset_info, ...) and the rendered body."""
    meta = card_metadata()
    total_rows = sum(len(v) for v in tables.values())
    data = DatasetCardData(
        pretty_name=meta["pretty_name"],
        license=meta["license"],
        language=meta["language"],
        task_categories=meta["task_categories"],
        size_categories=[size_category(total_rows)],
        tags=meta["tags"],
        configs=[
            {
                "config_name": c.name,
                **({"default": True} if c.default else {}),
                "data_files": [
                    {"split": split, "path": [config_table.tables[t].path for t in names]}
                    for split, names in c.splits.items()
                ],
            }
            for c in config_table.configs
        ],
        dataset_info=[dataset_info[c.name] for c in config_table.configs],
        canary=canary,
        **(meta["gating"] if gated else {}),
    )

    principles: Sequence[PrincipleRecord] = tables["principles"]  # type: ignore[assignment]
    pool: Sequence[GeneratedRequest] = tables["generated_llama3"]  # type: ignore[assignment]
    config_rows = []
    for c in config_table.configs:
        for split, names in c.splits.items():
            rows = sum(len(tables[t]) for t in names)
            kind = config_table.tables[names[0]].record
            config_rows.append(
                [f"`{c.name}`" + (" (default)" if c.default else ""), split, f"{rows:,}", kind, c.description]
            )
    body = Template(_resource("card_template.md")).substitute(
        canary=canary,
        version=version,
        upstream_commit=upstream_commit,
        principles_file=principles[0].source_file,
        principles_table=_md_table(
            ["#", "slug", "principle"],
            [[p.principle.value, f"`{p.principle.slug}`", p.text] for p in principles],
        ),
        configs_table=_md_table(["config", "split", "rows", "record", "description"], config_rows),
        principle_source_tables="\n\n".join(
            f"**{name}**\n\n" + _principle_source_table(tables[name])  # type: ignore[arg-type]
            for name in ("medical_train", "medical_test")
        ),
        fields_section=_fields_section(list(dict.fromkeys(t.record_type for t in config_table.tables.values()))),
        pool_rows=f"{len(pool):,}",
        threshold=leakage.threshold,
        train_test_count=len({p.left_id for p in leakage.train_test}),
        train_test_table=_md_table(
            ["test id", "train id", "Jaccard", "exact"],
            [[p.left_id, p.right_id, p.jaccard, "yes" if p.exact else "no"] for p in leakage.train_test],
        ),
        pool_special=sum(r.has_special_token for r in pool),
        pool_loops=sum(r.is_repetition_loop for r in pool),
        pool_fragments=sum(r.is_fragment for r in pool),
        pool_exact=leakage.pool_benchmark_exact,
        pool_near=leakage.pool_benchmark_near,
    )
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))

"""Render the Hub dataset card from ``dataset_card/`` with every number computed from the data."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from string import Template
from typing import Any

import yaml
from huggingface_hub import DatasetCard, DatasetCardData

from ..core.resources import resource_text
from ..core.text import md_table
from .benign import BENIGN_VERSION, NEAR_TRIGRAM, NEAR_WORDS, benign_card_section
from .configtable import ConfigTable
from .leakage import LeakageReport
from .pool_quality import flag_precision
from .records import (
    GeneratedRequest,
    MedicalRequest,
    NearDuplicatePair,
    PairScope,
    Principle,
    PrincipleRecord,
    Record,
    Source,
    features_for,
)

__all__ = ["REPO_PLACEHOLDER", "card_metadata", "render_card", "size_category", "with_repo_id"]

REPO_PLACEHOLDER = "ORG/medsafetybench"
"""Stands for the Hub repo id in a local build's card; ``push`` writes the real id (:func:`with_repo_id`)."""


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


def _principle_source_table(records: Sequence[MedicalRequest]) -> str:
    counts = Counter((r.principle, r.source) for r in records)
    sources = [s for s in Source if any(k[1] == s for k in counts)]
    rows = [
        [p.value, p.slug, *(counts[(p, s)] for s in sources), sum(counts[(p, s)] for s in sources)] for p in Principle
    ]
    rows.append(["", "**total**", *(sum(counts[(p, s)] for p in Principle) for s in sources), len(records)])
    return md_table(["#", "principle", *(s.value for s in sources), "total"], rows)


def with_repo_id(card: str, repo_id: str) -> str:
    """The card with every :data:`REPO_PLACEHOLDER` replaced by the real repo id (done at push time)."""
    return card.replace(REPO_PLACEHOLDER, repo_id)


def _licenses_table(config_table: ConfigTable) -> str:
    rows = []
    for key, spec in config_table.licenses.items():
        configs = [f"`{c.name}`" for c in config_table.configs if c.license == key]
        if configs:
            rows.append([", ".join(configs), f"[{spec.name}]({spec.url}) (`{spec.id}`)", spec.holder])
    return md_table(["configs", "license", "holder / source"], rows)


def _scope_table(pairs: Sequence[NearDuplicatePair]) -> str:
    rows = []
    for scope in PairScope:
        sel = [p for p in pairs if p.scope is scope]
        rows.append(
            [
                f"`{scope.value}`",
                len(sel),
                sum(p.principle_a != p.principle_b for p in sel),
                len({i for p in sel for i in (p.id_a, p.id_b)}),
            ]
        )
    rows.append(["**all**", len(pairs), sum(p.principle_a != p.principle_b for p in pairs), ""])
    return md_table(["scope", "pairs", "with different principles", "requests involved"], rows)


def _label_noise_table(pairs: Sequence[NearDuplicatePair]) -> str:
    rows = [
        [p.id_a, p.principle_a.value, p.id_b, p.principle_b.value, p.word_jaccard, p.trigram_jaccard, p.char_jaccard]
        for p in pairs
        if p.principle_a != p.principle_b
    ]
    return md_table(["id_a", "principle", "id_b", "principle", "words", "trigrams", "char 5-grams"], rows)


def _flags_table(pool: Sequence[GeneratedRequest]) -> str:
    rows = []
    for f in flag_precision(pool):
        description = GeneratedRequest.model_fields[f.flag].description or ""
        precision = f"{f.precision:.0%} ({f.correct}/{f.labelled})" if f.precision is not None else "n/a"
        rows.append([f"`{f.flag}`", f"{f.flagged:,}", precision, description.replace("|", "\\|")])
    return md_table(["flag", "rows", "precision (labelled sample)", "meaning"], rows)


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
            + md_table(["field", "type", "description"], rows)
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
    repo_id: str = REPO_PLACEHOLDER,
) -> str:
    """The full README.md: YAML metadata (configs, licenses, dataset_info, ...) and the rendered body."""
    meta = card_metadata()
    total_rows = sum(len(v) for v in tables.values())
    data = DatasetCardData(
        pretty_name=meta["pretty_name"],
        license=config_table.hub_licenses,
        config_licenses=config_table.config_licenses,
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
    pairs: Sequence[NearDuplicatePair] = tables["near_duplicates"]  # type: ignore[assignment]
    nd, overlap = leakage.benchmark, leakage.pool
    dups = [r for r in pool if r.duplicate_of is not None]
    principle_of = {r.id: r.principle for r in pool}
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
        principles_table=md_table(
            ["#", "slug", "principle"],
            [[p.principle.value, f"`{p.principle.slug}`", p.text] for p in principles],
        ),
        configs_table=md_table(["config", "split", "rows", "record", "description"], config_rows),
        principle_source_tables="\n\n".join(
            f"**{name}**\n\n" + _principle_source_table(tables[name])  # type: ignore[arg-type]
            for name in ("medical_train", "medical_test")
        ),
        fields_section=_fields_section(list(dict.fromkeys(t.record_type for t in config_table.tables.values()))),
        pool_rows=f"{len(pool):,}",
        repo_id=repo_id,
        licenses_table=_licenses_table(config_table),
        label_noise_pairs=nd.label_noise_pairs,
        label_noise_clusters=nd.label_noise_clusters,
        pairs_searched=f"{nd.pairs_searched:,}",
        benchmark_requests=f"{nd.requests:,}",
        char_n=nd.char_n,
        word_threshold=nd.word_threshold,
        trigram_threshold=nd.trigram_threshold,
        char_threshold=nd.char_threshold,
        nd_scope_table=_scope_table(pairs),
        nd_clusters=nd.clusters,
        nd_requests_in_clusters=nd.requests_in_clusters,
        nd_largest_cluster=nd.largest_cluster,
        nd_exact=nd.exact_pairs,
        label_noise_table=_label_noise_table(pairs),
        drop_count=len(nd.test_ids_to_drop),
        drop_ids=", ".join(f"`{i}`" for i in nd.test_ids_to_drop) or "(none)",
        flags_table=_flags_table(pool),
        pool_duplicates=f"{len(dups):,}",
        pool_duplicates_cross=sum(principle_of[r.duplicate_of] != r.principle for r in dups),  # type: ignore[index]
        pool_exact_requests=overlap.exact_requests,
        pool_exact_pairs=overlap.exact_pairs,
        pool_near_requests=overlap.near_requests,
        pool_near_pairs=overlap.near_pairs,
        pool_threshold=overlap.threshold,
        gating_note="This copy is gated." if gated else "This copy was built without gating.",
        benign_version=BENIGN_VERSION,
        measurements=_resource("measurements.md").rstrip("\n"),
        benign_section=benign_card_section(
            [*tables["medical_benign_train"], *tables["medical_benign_test"]],  # type: ignore[list-item]
            [*tables["medical_train"], *tables["medical_test"]],  # type: ignore[list-item]
        ),
        benign_near_words=NEAR_WORDS,
        benign_near_trigram=NEAR_TRIGRAM,
    )
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))

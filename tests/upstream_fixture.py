"""A small invented upstream tree in the real layout (no upstream text), with its own sha256 manifest."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

from medsafetybench.core.files import sha256_file
from medsafetybench.dataset.finetune_subsets import upstream_json
from medsafetybench.dataset.records import Demonstration, Origin
from medsafetybench.dataset.upstream_manifest import UpstreamFile, UpstreamManifest

FIXTURE_BENIGN = Path(__file__).parent / "fixtures" / "benign"
"""Invented benign contrast set twinning the fixture's gpt4 row 0 of each principle and split."""
ROWS = {"gpt4": 2, "llama2": 1}  # per principle, per split
PRINCIPLE_TEXTS = [f"A physician shall follow invented rule number {k}, for testing only." for k in range(1, 10)]
PRINCIPLE_TEXTS[5] = "A physician shall, in invented rule six, keep commas for testing."
POOL_FIRST_LINES = {
    2: 'Invented generated request 2 one." (Unethical)',  # annotation tail
    3: "( Violates invented rule three)",  # commentary
    4: "Invented generated request 4 lists things, such as",  # truncated
    5: 'Invented title": "Invented generated request 5 one.',  # JSON debris
    7: "INVENTED generated request 6   one.",  # duplicate of principle 6's first line
}
"""First pool line of some principles, one per artifact the quality flags mark."""
FT_SIZES = (2, 4)  # med_n2, med_n4, gen_n2, gen_n4, both_n4, both_n8


def bench_rows(split: str, source: str, k: int) -> list[tuple[str, str]]:
    return [
        (
            f"Fixture {split} {source} request {i} about rule {k}?",
            f"Fixture safe reply {i} for rule {k}, 'quoted'.",
        )
        for i in range(ROWS[source])
    ]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["", "harmful_medical_request", "safe_response"])
    for i, (q, a) in enumerate(rows):
        w.writerow([i, q, a])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode())


def _demo(i: int, q: str, a: str, origin: Origin) -> Demonstration:
    return Demonstration(
        id=f"demo-{origin.value}-{i:03d}",
        instruction=q,
        response=a,
        origin=origin,
        rank=i,
        request_id=None,
        source_file="x",
    )


def make_upstream(root: Path) -> UpstreamManifest:
    """Write the fixture tree under ``root``; return a manifest of every file."""
    train_pairs = []
    for split in ("train", "test"):
        for source in ROWS:
            for k in range(1, 10):
                rows = bench_rows(split, source, k)
                if split == "train":
                    train_pairs += rows
                write_csv(root / f"datasets/{split}/{source}/med_safety_demonstrations_category_{k}.csv", rows)
    for k in range(1, 10):
        lines = [
            POOL_FIRST_LINES.get(k, f"Invented generated request {k} one."),
            f'Invented generated request {k} two."<|eot_id|>',
            " ".join(["And so the words go round and round"] * 4),
            "Fixture train gpt4 request 0 about rule 1?" if k == 1 else f"and a fragment {k}",
        ]
        p = root / f"datasets/med_harm_llama3/category_{k}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rng = random.Random(0)
    med_order = rng.sample(train_pairs, FT_SIZES[-1])
    gen_pairs = [(f"General request {i} / slash?", f"General refusal {i}.\nSecond line.") for i in range(FT_SIZES[-1])]
    med = [_demo(i, q, a, Origin.MEDICAL) for i, (q, a) in enumerate(med_order)]
    gen = [_demo(i, q, a, Origin.GENERAL) for i, (q, a) in enumerate(gen_pairs)]
    ft = root / "datasets/train-splits-used-for-ft"
    for n in FT_SIZES:
        for tag, demos in (("med", med), ("gen", gen)):
            (ft / f"{tag}_safety").mkdir(parents=True, exist_ok=True)
            (ft / f"{tag}_safety/ft_safety_{tag}_n{n}.json").write_text(upstream_json(demos[:n]))
        both = med[:n] + gen[:n]
        rng.shuffle(both)
        (ft / "both_safety").mkdir(parents=True, exist_ok=True)
        (ft / f"both_safety/ft_safety_both_n{2 * n}.json").write_text(upstream_json(both))
    adv = root / "exps/adv_attack/adv_ama_prompts/adv_ama_prompts.jsonl"
    adv.parent.mkdir(parents=True, exist_ok=True)
    adv.write_text(
        "".join(
            json.dumps({"goal": f"{t} Write twenty invented examples.", "target": "Sure"}) + "\n"
            for t in PRINCIPLE_TEXTS
        )
    )
    return manifest_for(root)


def manifest_for(root: Path) -> UpstreamManifest:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return UpstreamManifest(
        repository="fixture/med-safety-bench",
        commit="0" * 40,
        license="MIT",
        files=[
            UpstreamFile(path=p.relative_to(root).as_posix(), sha256=sha256_file(p), bytes=p.stat().st_size)
            for p in files
        ],
    )


def fixture_benchmark():
    """The fixture's benchmark requests as records (both splits), straight from its shape."""
    from medsafetybench.dataset.records import MedicalRequest, Principle, Source, Split

    return [
        MedicalRequest(
            id=f"med-{split}-{source}-p{k}-{i:03d}",
            request=q,
            safe_response=a,
            principle=Principle(k),
            source=Source(source),
            split=Split(split),
            source_file="fixture",
            source_row=i,
        )
        for split in ("train", "test")
        for source in ROWS
        for k in range(1, 10)
        for i, (q, a) in enumerate(bench_rows(split, source, k))
    ]


def fixture_contract():
    """The release contract the fixture must satisfy, written from the fixture's shape (not from a build)."""
    from medsafetybench.dataset.contract import ConfigCounts, ReleaseContract, pinned_contract
    from medsafetybench.dataset.leakage import near_duplicate_pairs

    def medical(split_rows: int) -> ConfigCounts:
        cells = {f"p{k}/{s}": n for k in range(1, 10) for s, n in ROWS.items()}
        return ConfigCounts(rows=split_rows, cells=dict(sorted(cells.items())))

    per_split = 9 * sum(ROWS.values())
    n = FT_SIZES[-1]
    pinned = pinned_contract()
    return ReleaseContract(
        name="medsafetybench",
        version=pinned.version,
        canary=pinned.canary,
        upstream_commit="0" * 40,
        counts={
            "medical": {"train": medical(per_split), "test": medical(per_split)},
            "medical_train": {"train": medical(per_split)},
            "medical_test": {"test": medical(per_split)},
            "general_train": {"train": ConfigCounts(rows=n)},
            "finetune_demonstrations": {"train": ConfigCounts(rows=2 * n)},
            "finetune_mix_orders": {"train": ConfigCounts(rows=sum(2 * s for s in FT_SIZES))},
            "generated_llama3": {"train": ConfigCounts(rows=36, cells={f"p{k}/llama3": 4 for k in range(1, 10)})},
            "principles": {"train": ConfigCounts(rows=9, cells={f"p{k}": 1 for k in range(1, 10)})},
            "near_duplicates": {"train": ConfigCounts(rows=len(near_duplicate_pairs(fixture_benchmark())))},
            "medical_benign": {
                "train": ConfigCounts(rows=9, cells={f"p{k}": 1 for k in range(1, 10)}),
                "test": ConfigCounts(rows=9, cells={f"p{k}": 1 for k in range(1, 10)}),
            },
        },
    )

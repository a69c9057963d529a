"""Precision and recall of the offline refusal proxy (``eval.judges.refusal_phrases``) on labelled text.

Refusals (positives): upstream's safe responses to MedSafetyBench requests (medical_train, medical_test)
and upstream's general safety demonstrations (Bianchi et al. 2023). Non-refusals (negatives): the
reference answers of ``medical_benign`` (this package's own contrast set). The halves: train =
medical_train safe responses + even-rank general demonstrations + benign train answers; test =
medical_test safe responses + odd-rank general demonstrations + benign test answers. Patterns may only
be changed by looking at the train half; the figures that count are the test half's.

    python benchmarks/refusal_proxy.py --data /tmp/msb-build

Writes benchmarks/results/refusal_proxy.{json,md}: counts and ids only (no upstream text).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from medsafetybench import records
from medsafetybench.eval.judges.refusal_phrases import REFUSAL_VERSION, detect_refusal
from medsafetybench.eval.stats import bootstrap_ci

RESULTS = Path(__file__).resolve().parent / "results"


def labelled(data: str) -> dict[str, list[tuple[str, str, str, bool]]]:
    """Per half: (id, group, text, is_refusal)."""
    halves: dict[str, list[tuple[str, str, str, bool]]] = {"train": [], "test": []}
    for r in records("medical", repo_id=data):
        halves[str(r.split)].append((r.id, f"medical_{r.split} safe responses", r.safe_response, True))
    for d in records("finetune_demonstrations", repo_id=data):
        if str(d.origin) == "general":
            half = "train" if d.rank % 2 == 0 else "test"
            halves[half].append((d.id, "general demonstrations", d.response, True))
    for b in records("medical_benign", repo_id=data):
        halves[str(b.split)].append((b.id, f"medical_benign {b.split} reference answers", b.reference_answer, False))
    return halves


def confusion(rows: list[tuple[str, str, str, bool]]) -> dict[str, object]:
    tp = fp = fn = tn = 0
    by_group: Counter[str] = Counter()
    hits_by_group: Counter[str] = Counter()
    false_pos: list[dict[str, str]] = []
    false_neg: list[str] = []
    for id_, group, text, positive in rows:
        match = detect_refusal(text)
        by_group[group] += 1
        hits_by_group[group] += match is not None
        if positive and match:
            tp += 1
        elif positive:
            fn += 1
            false_neg.append(id_)
        elif match:
            fp += 1
            false_pos.append({"id": id_, "matched": match})
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    flags_pos = [1.0] * tp + [0.0] * fn
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "recall_ci95": bootstrap_ci(flags_pos, 2000, 0),
        "specificity": tn / (tn + fp) if tn + fp else None,
        "f1": 2 * precision * recall / (precision + recall) if precision and recall else None,
        "detected_by_group": {g: [hits_by_group[g], n] for g, n in by_group.items()},
        "false_positives": false_pos,
        "false_negatives": false_neg,
    }


def _pct(x: object) -> str:
    return "–" if x is None else f"{100 * float(x):.1f}%"  # type: ignore[arg-type]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="A build folder (medsafetybench build --out DIR) or a Hub repo id.")
    a = p.parse_args()
    halves = labelled(a.data)
    result = {"detector": REFUSAL_VERSION, "patterns_changed": False, **{h: confusion(r) for h, r in halves.items()}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "refusal_proxy.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Refusal proxy ({REFUSAL_VERSION}): precision and recall on labelled text",
        "",
        "Produced by `benchmarks/refusal_proxy.py`. Refusals: upstream safe responses (medical_train /",
        "medical_test) and upstream general safety demonstrations (even ranks train, odd ranks test).",
        "Non-refusals: `medical_benign` reference answers (this package's own data). The patterns were not",
        "changed for this measurement, so both halves are held out; the test half is the reference figure.",
        "",
        "| half | TP | FN | FP | TN | precision | recall (95% CI) | specificity | F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for half in ("test", "train"):
        c = result[half]
        ci = c["recall_ci95"]
        recall = f"{_pct(c['recall'])} [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else _pct(c["recall"])
        lines.append(
            f"| {half} | {c['tp']} | {c['fn']} | {c['fp']} | {c['tn']} | {_pct(c['precision'])} | {recall} "
            f"| {_pct(c['specificity'])} | {_pct(c['f1'])} |"
        )
    lines += ["", "Detected per group (detected / total):", ""]
    for half in ("test", "train"):
        for group, (hit, n) in result[half]["detected_by_group"].items():  # type: ignore[union-attr]
            lines.append(f"- {half}: {group}: {hit}/{n} ({_pct(hit / n)})")
    fps = result["test"]["false_positives"] + result["train"]["false_positives"]  # type: ignore[operator]
    lines += ["", f"False positives (benign answers flagged as refusals): {len(fps)}", ""]
    lines += [f"- {f['id']}: matched {f['matched']!r}" for f in fps]
    (RESULTS / "refusal_proxy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[7:11]))


if __name__ == "__main__":
    main()

"""Write ``dataset_card/measurements.md``, the card's "Measured with the package" section, from results JSON.

    python benchmarks/card_measurements.py

The section is generated, never typed: the refusal proxy's confusion table
(``benchmarks/results/refusal_proxy.json``) and the two-sided SmolLM2 fine-tuning demonstration
(``benchmarks/results/finetune_smollm2.json``). A test checks that the committed file equals this output.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "dataset_card" / "measurements.md"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render(proxy: dict, demo: dict) -> str:
    """The Markdown section from the two results files."""
    lines = [
        f"**The offline refusal proxy** (`{proxy['detector']}`, the `refusal` judge of the package), measured on "
        "labelled text: refusals = upstream safe responses and general demonstrations, non-refusals = the "
        "`medical_benign` reference answers. "
        + (
            "Its patterns were not tuned on this data, so both halves are held out."
            if not proxy["patterns_changed"]
            else "Its patterns were changed on the train half; the test half is held out."
        ),
        "",
        "| half | TP | FN | FP | TN | precision | recall (95% CI) | specificity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for half in ("test", "train"):
        h = proxy[half]
        lines.append(
            f"| {half} | {h['tp']} | {h['fn']} | {h['fp']} | {h['tn']} | {_pct(h['precision'])} | "
            f"{_pct(h['recall'])} [{_pct(h['recall_ci95'][0])}, {_pct(h['recall_ci95'][1])}] | "
            f"{_pct(h['specificity'])} |"
        )
    groups = "; ".join(f"{g} {a}/{b}" for g, (a, b) in proxy["test"]["detected_by_group"].items())
    lines += ["", f"Detected in the test half: {groups}.", ""]
    train, ev = demo["train"], demo["eval"]
    lines += [
        f"**Both sides, before and after safety fine-tuning** ({demo['model']}, CPU demonstration, refusal proxy; "
        f"held out: {ev['per_principle']} items per principle from `medical_test` and from the "
        "`medical_benign` test split):",
        "",
        "| model | harmful requests refused | benign requests refused (over-refusal) |",
        "|---|---|---|",
    ]
    names = {
        "before": "before (base model)",
        "plain": f"after upstream `{train['subset']}`",
        "benign": f"after `{train['subset']}` + {train['benign_added']} `medical_benign` train items",
    }
    for key, label in names.items():
        run = demo["runs"][key]
        h, b = run["harmful_refusal"], run["benign_over_refusal"]
        harmful, benign = f"{h['refused']}/{h['n']} ({_pct(h['rate'])})", f"{b['refused']}/{b['n']} ({_pct(b['rate'])})"
        lines.append(f"| {label} | {harmful} | {benign} |")
    lines += [
        "",
        "Refusal-only safety data taught this small model to refuse benign medical questions as well: the reason "
        "`medical_benign` exists. These are proxy rates from one small CPU run, not the paper's judge.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    proxy = json.loads((RESULTS / "refusal_proxy.json").read_text())
    demo = json.loads((RESULTS / "finetune_smollm2.json").read_text())
    OUT.write_text(render(proxy, demo), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

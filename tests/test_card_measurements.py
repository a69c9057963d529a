"""The card's measured section is generated from benchmarks/results (never typed) and reaches the card."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("card_measurements", ROOT / "benchmarks" / "card_measurements.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_committed_section_equals_the_generated_one():
    m = _script()
    proxy = json.loads((ROOT / "benchmarks/results/refusal_proxy.json").read_text())
    demo = json.loads((ROOT / "benchmarks/results/finetune_smollm2.json").read_text())
    assert (ROOT / "dataset_card/measurements.md").read_text() == m.render(proxy, demo)
    assert "| test | 1250 | 100 | 1 | 233 | 99.9% |" in m.render(proxy, demo)


def test_the_card_carries_it(fixture_build: Path):
    card = (fixture_build / "README.md").read_text()
    assert "### Measured with the package" in card
    assert "benign requests refused (over-refusal)" in card

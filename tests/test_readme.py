"""The README stays true: its config table matches the release contract; CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

from medsafetybench.dataset.configtable import config_table
from medsafetybench.dataset.contract import pinned_contract

ROOT = Path(__file__).resolve().parents[1]


def test_readme_config_table_matches_contract():
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `(\w+)`(?: \(default\))? \| ([\w, ]+) \| ([\d,+ ]+) \|", text, re.M)
    contract = pinned_contract()
    assert [r[0] for r in rows] == config_table().names
    for name, splits, counts in rows:
        want = contract.counts[name]
        assert [s.strip() for s in splits.split(",")] == list(want)
        assert [int(c.replace(",", "")) for c in counts.split("+")] == [want[s].rows for s in want]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test   #" in readme and "make demo   #" in readme
    assert "make test" in (ROOT / ".ci/run").read_text()

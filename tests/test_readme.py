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


def _readme_commands() -> list[list[str]]:
    """Every ``medsafetybench ...`` command line in the code blocks of the README and docs/ (continuations
    joined)."""
    import shlex

    text = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("medsafetybench ") and "..." not in line:
                commands.append(shlex.split(line)[1:])
    return commands


def test_every_readme_command_parses_with_the_cli():
    """Each command's subcommand, options and required options exist (pasted as written, it parses)."""
    import click
    import typer

    from medsafetybench.cli import app

    group = typer.main.get_command(app)
    commands = _readme_commands()
    assert len(commands) >= 10
    for args in commands:
        ctx = group.make_context("medsafetybench", list(args), resilient_parsing=True)
        sub = group.get_command(ctx, args[0])  # type: ignore[attr-defined]
        assert sub is not None, f"README/docs: unknown command {args[0]!r}"
        try:
            sub.make_context(args[0], list(args[1:]))
        except click.exceptions.Exit:
            pass
        except click.ClickException as exc:
            raise AssertionError(
                f"README/docs command `medsafetybench {' '.join(args)}`: {exc.format_message()}"
            ) from exc

"""``medsafetybench validate`` and ``medsafetybench push``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console()
err = Console(stderr=True)

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``push`` to the main app."""

    @app.command()
    def validate(
        target: Annotated[str, typer.Argument(help="Build folder, or ORG/NAME[@REV] on the Hub")],
        json_path: Annotated[Path | None, typer.Option("--json", help="Write the JSON report here")] = None,
        contract: Annotated[
            Path | None, typer.Option(help="Release contract JSON (default: the pinned release)")
        ] = None,
        upstream: Annotated[Path | None, typer.Option(help="Also verify this upstream tree's sha256 hashes")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every offending row")] = False,
    ) -> None:
        """Check a copy of the dataset against the release contract; exit 1 on any error."""
        from .contract import ReleaseContract
        from .validate import validate as run_validate

        pinned = ReleaseContract.model_validate_json(contract.read_text("utf-8")) if contract else None
        with err.status(f"validating {target}"):
            report = run_validate(target, pinned, upstream)
        table = Table(
            title=f"medsafetybench validate {target}" + (f" (release {report.release})" if report.release else "")
        )
        for col in ("check", "status", "summary"):
            table.add_column(col, overflow="fold")
        for c in report.checks:
            table.add_row(c.name, f"[{_STYLE[c.status.value]}]{c.status.value.upper()}[/]", escape(c.summary))
        out.print(table)
        for c in report.checks:
            if c.details and (verbose or c.status.value != "pass"):
                out.print(f"[{_STYLE[c.status.value]}]{c.name}[/] ({c.total_issues}):")
                for line in c.details if verbose else c.details[:20]:
                    out.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        verdict = "[green]PASS[/]" if report.passed else f"[bold red]FAIL[/] ({', '.join(report.failed())})"
        out.print(f"{verdict} in {report.seconds:.1f} s")
        if not report.passed:
            raise typer.Exit(1)

    @app.command()
    def push(
        folder: Annotated[Path, typer.Argument(help="Build folder to publish")],
        repo_id: Annotated[str, typer.Option(help="ORG/NAME of the Hub dataset repo")],
        revision: Annotated[str | None, typer.Option(help="Tag for this release (default: v<release version>)")] = None,
        private: Annotated[bool, typer.Option(help="Create the repo private")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and stop")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Upload without asking")] = False,
    ) -> None:
        """Validate, show the upload plan, then upload in one commit and tag the release."""
        from .hub_push import plan_push, print_plan, push_folder

        plan = plan_push(folder, repo_id, revision, private)
        print_plan(plan, out)
        if dry_run:
            out.print("dry run: nothing uploaded")
            return
        if not yes and not typer.confirm(f"Upload {len(plan.files)} files to {repo_id}?", default=False):
            raise typer.Exit(1)
        url = push_folder(plan)
        out.print(f"[green]pushed[/] {url} (tag {plan.tag})")

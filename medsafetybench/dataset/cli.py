"""The dataset side's commands: ``build``, ``validate``, ``push``, ``schema``, ``export-finetune``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..core.errors import MedSafetyError

out = Console()
err = Console(stderr=True, log_path=False)

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def register(app: typer.Typer) -> None:
    """Add the dataset commands to the main app."""

    @app.command()
    def build(
        out: Annotated[Path, typer.Option(help="Output folder (replaced atomically if it is a previous build)")],
        source: Annotated[
            Path | None,
            typer.Option(help="Local upstream tree; default: download the pinned release (hash-verified)"),
        ] = None,
        manifest: Annotated[
            Path | None, typer.Option(help="Upstream sha256 manifest JSON (default: the pinned release)")
        ] = None,
        benign: Annotated[
            Path | None,
            typer.Option(help="Folder of p1.jsonl..p9.jsonl for medical_benign (default: the packaged set)"),
        ] = None,
        gated: Annotated[bool, typer.Option(help="Add Hub access gating (extra_gated_prompt) to the card")] = False,
        force: Annotated[bool, typer.Option(help="Replace --out even if it is not a previous build")] = False,
    ) -> None:
        """Build the dataset (parquet, card, manifest, JSON Schema) from the pinned upstream release."""
        from .build import build as run_build
        from .fetch import fetch_upstream
        from .upstream_manifest import UpstreamManifest

        pinned = UpstreamManifest.model_validate_json(manifest.read_text("utf-8")) if manifest else None
        start = time.perf_counter()
        with err.status("starting") as status:

            def step(message: str) -> None:
                err.log(message)
                status.update(message)

            if source is None:
                step("fetching the pinned upstream release")
                source = fetch_upstream(pinned)
            result = run_build(source, out, manifest=pinned, benign=benign, gated=gated, force=force, progress=step)
        rows = sum(f.rows for f in result.files)
        err.print(
            f"[green]built[/] {out} in {time.perf_counter() - start:.1f} s: {len(result.files)} data files, "
            f"{rows:,} rows, release {result.version}"
        )

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
        from .push import plan_push, print_plan, push_folder

        if not (yes or dry_run) and not sys.stdin.isatty():
            raise MedSafetyError("push: no terminal to confirm the upload on; pass --yes (or --dry-run for the plan)")
        plan = plan_push(folder, repo_id, revision, private)
        print_plan(plan, out)
        if dry_run:
            out.print("dry run: nothing uploaded")
            return
        if not yes and not typer.confirm(f"Upload {len(plan.files)} files to {repo_id}?", default=False):
            raise typer.Exit(1)
        url = push_folder(plan)
        out.print(f"[green]pushed[/] {url} (tag {plan.tag})")

    @app.command()
    def schema(
        rows: Annotated[
            bool, typer.Option("--rows", help="Stored rows (ClassLabel indices, principle 0-8) instead of records")
        ] = False,
    ) -> None:
        """Print the JSON Schema (2020-12) of a typed record (principle 1-9), or of a stored row with --rows."""
        from .records import json_schema, row_json_schema

        typer.echo(json.dumps(row_json_schema() if rows else json_schema(), indent=2))

    @app.command("disjoint-test")
    def disjoint_test(
        repo_id: Annotated[
            str | None,
            typer.Option("--data", "--repo-id", help="Build folder or ORG/NAME (default $MEDSAFETYBENCH_REPO_ID)"),
        ] = None,
        revision: Annotated[str | None, typer.Option(help="Hub revision")] = None,
        out: Annotated[Path | None, typer.Option(help="Write the ids here, one per line (default: stdout)")] = None,
    ) -> None:
        """Print the medical_test ids that have a near duplicate in train (drop them for a disjoint test set)."""
        from ..core.files import atomic_write_text
        from .leakage import disjoint_test_ids

        ids = disjoint_test_ids(repo_id, revision)
        if out is None:
            typer.echo("\n".join(ids))
        else:
            atomic_write_text(out, "".join(f"{i}\n" for i in ids))
        err.print(
            f"{len(ids)} test ids have a near duplicate in train (near_duplicates, scope cross_split)", soft_wrap=True
        )

    @app.command("export-finetune")
    def export_finetune(
        mix: Annotated[str, typer.Option(help="medical | general | both")],
        n: Annotated[int, typer.Option(help="Subset size, as in ft_safety_{mix}_n{N}.json")],
        out: Annotated[Path, typer.Option(help="Output JSON file (upstream format)")],
        repo_id: Annotated[
            str | None,
            typer.Option("--data", "--repo-id", help="Build folder or ORG/NAME (default $MEDSAFETYBENCH_REPO_ID)"),
        ] = None,
        revision: Annotated[str | None, typer.Option(help="Hub revision")] = None,
    ) -> None:
        """Write one upstream fine-tuning subset, byte-identical to upstream's JSON file."""
        import warnings

        from ..core.files import atomic_write_bytes
        from .finetune_subsets import NonCommercialDataWarning, finetune_subset, non_commercial_notice, upstream_json

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonCommercialDataWarning)  # printed below as one line
            demos = finetune_subset(mix, n, repo_id, revision)  # type: ignore[arg-type]
        atomic_write_bytes(out, upstream_json(demos).encode("ascii"))
        err.print(f"wrote {out} ({len(demos)} demonstrations)")
        if notice := non_commercial_notice(demos):
            err.print(f"[yellow]warning:[/] {escape(notice)}", soft_wrap=True)

"""The ``medsafetybench`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.markup import escape

from .errors import MedSafetyError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="MedSafetyBench: build, validate and publish the dataset; evaluate and fine-tune models.",
)
err = Console(stderr=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of every record type."""
    from .schema import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command("export-finetune")
def export_finetune(
    mix: Annotated[str, typer.Option(help="medical | general | both")],
    n: Annotated[int, typer.Option(help="Subset size, as in ft_safety_{mix}_n{N}.json")],
    out: Annotated[Path, typer.Option(help="Output JSON file (upstream format)")],
    repo_id: Annotated[
        str | None, typer.Option(help="Build folder or ORG/NAME (default $MEDSAFETYBENCH_REPO_ID)")
    ] = None,
    revision: Annotated[str | None, typer.Option(help="Hub revision")] = None,
) -> None:
    """Write one upstream fine-tuning subset, byte-identical to upstream's JSON file."""
    from .finetune_subsets import finetune_subset, upstream_json

    demos = finetune_subset(mix, n, repo_id, revision)  # type: ignore[arg-type]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(upstream_json(demos).encode("ascii"))
    tmp.replace(out)
    err.print(f"wrote {out} ({len(demos)} demonstrations)")


def _register_plugins() -> None:
    from . import build_cli, validate_cli
    from .eval.cli import register as register_eval
    from .finetune.cli import register as register_finetune

    build_cli.register(app)
    validate_cli.register(app)
    register_eval(app)
    register_finetune(app)


_register_plugins()


def main() -> None:
    """Entry point: one-line errors and non-zero exit codes."""
    try:
        rc = app(standalone_mode=False)
    except MedSafetyError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(rc if isinstance(rc, int) else 0)

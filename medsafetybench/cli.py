"""The ``medsafetybench`` command line."""

from __future__ import annotations

import sys

import click
import typer
from rich.console import Console
from rich.markup import escape

from .core.errors import MedSafetyError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="MedSafetyBench: build, validate and publish the dataset; evaluate and fine-tune models.",
)
err = Console(stderr=True)


def _register_plugins() -> None:
    from .dataset.cli import register as register_dataset
    from .eval.cli import register as register_eval
    from .finetune.cli import register as register_finetune

    register_dataset(app)
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

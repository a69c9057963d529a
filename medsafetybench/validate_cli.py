"""CLI commands (validate_cli)."""

import typer


def register(app: typer.Typer) -> None:
    """Add commands to the main app."""

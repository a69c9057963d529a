"""``medsafetybench build``: the Hub-ready dataset folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add ``build`` to the main app."""

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
            result = run_build(source, out, manifest=pinned, gated=gated, force=force, progress=step)
        rows = sum(f.rows for f in result.files)
        err.print(
            f"[green]built[/] {out} in {time.perf_counter() - start:.1f} s: {len(result.files)} data files, "
            f"{rows:,} rows, release {result.version}"
        )

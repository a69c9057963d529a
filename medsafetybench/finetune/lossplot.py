"""The loss-curve PNG of a run."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from ..core.files import atomic_write_bytes
from .manifest import LossPoint

__all__ = ["write_loss_curve"]


def write_loss_curve(points: Sequence[LossPoint], path: Path, title: str = "training loss") -> None:
    """Plot loss against optimizer step (matplotlib, no display needed); written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot([p.step for p in points], [p.loss for p in points], marker="o", markersize=3)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    atomic_write_bytes(path, png.getvalue())

"""Load MedSafetyBench configs from the Hub or a local build, as ``datasets`` objects or typed records."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ..core.errors import MedSafetyError
from .configtable import config_table
from .location import check_location
from .records import Record, from_row

__all__ = ["REPO_ENV", "load", "records", "resolve_repo"]

REPO_ENV = "MEDSAFETYBENCH_REPO_ID"


def resolve_repo(repo_id: str | os.PathLike[str] | None = None) -> str:
    """The dataset location: ``repo_id`` (a build folder or ``ORG/NAME``), else ``$MEDSAFETYBENCH_REPO_ID``."""
    repo = os.fspath(repo_id) if repo_id is not None else os.environ.get(REPO_ENV)
    if not repo:
        raise MedSafetyError(
            f"no dataset location: pass --data (CLI) or repo_id= (Python), a build folder or ORG/NAME on the Hub, "
            f"or set ${REPO_ENV}"
        )
    return repo


def load(
    config: str = "medical",
    split: str | None = None,
    repo_id: str | os.PathLike[str] | None = None,
    revision: str | None = None,
) -> Any:
    """``datasets.load_dataset`` of one config; a ``DatasetDict``, or a ``Dataset`` when ``split`` is given."""
    import datasets

    spec = config_table().config(config)
    if split is not None and split not in spec.splits:
        raise MedSafetyError(f"config {config!r} has no split {split!r} (it has {', '.join(spec.splits)})")
    repo, _ = check_location(resolve_repo(repo_id), revision)
    return datasets.load_dataset(repo, config, split=split, revision=revision)


def records(
    config: str = "medical",
    split: str | None = None,
    repo_id: str | os.PathLike[str] | None = None,
    revision: str | None = None,
) -> Iterator[Record]:
    """Typed records of a config (all splits in table order when ``split`` is None)."""
    spec = config_table().config(config)
    model = spec.record_type(config_table())
    loaded = load(config, split, repo_id, revision)
    parts = [loaded] if split is not None else [loaded[s] for s in spec.splits]
    for part in parts:
        for row in part:
            yield from_row(model, row)

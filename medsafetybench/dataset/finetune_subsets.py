"""Rebuild every upstream fine-tuning subset (``ft_safety_{med,gen,both}_nN.json``) exactly."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from ..core.errors import MedSafetyError
from .configtable import config_table
from .loader import records
from .records import Demonstration, MixOrder, Origin

__all__ = [
    "MIX_SIZES",
    "Mix",
    "NonCommercialDataWarning",
    "finetune_subset",
    "non_commercial_notice",
    "subset_from",
    "upstream_file_name",
    "upstream_json",
]

Mix = Literal["medical", "general", "both"]

MIX_SIZES: dict[str, tuple[int, ...]] = {
    "medical": tuple(range(100, 1000, 100)),
    "general": tuple(range(100, 1000, 100)),
    "both": tuple(range(100, 1900, 100)),
}
_UPSTREAM_TAG = {"medical": "med", "general": "gen", "both": "both"}


class NonCommercialDataWarning(UserWarning):
    """What was returned holds general demonstrations, licensed for non-commercial use only."""


def non_commercial_notice(demonstrations: Sequence[Demonstration]) -> str | None:
    """One line naming the non-commercial rows of ``demonstrations`` (None when there are none).

    The license is the one ``general_train`` declares in the config table.
    """
    general = sum(d.origin is Origin.GENERAL for d in demonstrations)
    spec = config_table().license_of("general_train")
    if not general or not spec.non_commercial:
        return None
    return (
        f"{general} of {len(demonstrations)} demonstrations are general safety demonstrations from "
        f"{spec.holder}, licensed {spec.name} ({spec.id}): non-commercial use only"
    )


def upstream_file_name(mix: str, n: int) -> str:
    """Upstream path of a subset, relative to the repository root."""
    tag = _UPSTREAM_TAG[mix]
    return f"datasets/train-splits-used-for-ft/{tag}_safety/ft_safety_{tag}_n{n}.json"


def _check(mix: str, n: int, all_sizes: Mapping[str, Sequence[int]] = MIX_SIZES) -> None:
    if mix not in all_sizes:
        raise MedSafetyError(f"unknown mix {mix!r}; upstream has {', '.join(all_sizes)}")
    if n not in all_sizes[mix]:
        sizes = all_sizes[mix]
        raise MedSafetyError(f"upstream has no {mix} subset of n={n}; it has n={sizes[0]}..{sizes[-1]} step 100")


def subset_from(
    mix: str,
    n: int,
    demonstrations: Iterable[Demonstration],
    mix_orders: Iterable[MixOrder],
    sizes: Mapping[str, Sequence[int]] = MIX_SIZES,
) -> list[Demonstration]:
    """The subset for (mix, n) in upstream's row order, from already-loaded records."""
    _check(mix, n, sizes)
    demos = list(demonstrations)
    if mix != "both":
        origin = Origin.MEDICAL if mix == "medical" else Origin.GENERAL
        return sorted((d for d in demos if d.origin == origin and d.rank < n), key=lambda d: d.rank)
    by_id = {d.id: d for d in demos}
    order = sorted((o for o in mix_orders if o.n == n), key=lambda o: o.position)
    if len(order) != n:
        raise MedSafetyError(f"finetune_mix_orders has {len(order)} rows for n={n}, expected {n}")
    try:
        return [by_id[o.demonstration_id] for o in order]
    except KeyError as exc:
        raise MedSafetyError(f"finetune_mix_orders names unknown demonstration {exc.args[0]}") from None


def finetune_subset(
    mix: Mix,
    n: int,
    repo_id: str | os.PathLike[str] | None = None,
    revision: str | None = None,
) -> list[Demonstration]:
    """Demonstrations of upstream's ``ft_safety_{mix}_n{n}.json``, in upstream's order.

    ``mix`` is ``medical`` (med_nN), ``general`` (gen_nN) or ``both`` (both_nN = med_{N/2} +
    gen_{N/2}, shuffled as upstream shuffled it). ``general`` and ``both`` hold the general demonstrations
    of Bianchi et al. (2023), CC BY-NC 4.0: a :class:`NonCommercialDataWarning` says so.
    """
    _check(mix, n)
    demos = records("finetune_demonstrations", "train", repo_id, revision)
    orders = records("finetune_mix_orders", "train", repo_id, revision) if mix == "both" else []
    subset = subset_from(mix, n, demos, orders)  # type: ignore[arg-type]
    if notice := non_commercial_notice(subset):
        warnings.warn(notice, NonCommercialDataWarning, stacklevel=2)
    return subset


def upstream_json(demonstrations: Sequence[Demonstration]) -> str:
    """Serialize as upstream did (pandas ``to_json(orient='records', indent=4)``): byte-identical."""

    def value(text: str) -> str:
        return json.dumps(text).replace("/", "\\/")

    rows = [
        "    {\n"
        f'        "instruction":{value(d.instruction)},\n'
        f'        "output":{value(d.response)},\n'
        '        "input":""\n'
        "    }"
        for d in demonstrations
    ]
    return "[\n" + ",\n".join(rows) + "\n]"

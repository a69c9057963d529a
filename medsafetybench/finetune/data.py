"""The demonstrations of a run: an upstream mix from a build or the Hub, and which revision it was;
optionally plus K benign ``medical_benign`` train items (request + reference answer, this package's own data)."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import MedSafetyError
from ..core.files import sha256_files
from ..dataset.records import BenignRequest, Demonstration, Origin, Principle
from .manifest import DataSource

__all__ = ["benign_demonstrations", "dataset_revision", "folder_sha256", "load_mix"]


def folder_sha256(folder: Path) -> str:
    """``sha256:`` + hash of every file (relative path and bytes) of a local build folder, caches excluded."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts)
    return "sha256:" + sha256_files(folder, [str(p.relative_to(folder)) for p in files])


def dataset_revision(location: str, revision: str | None) -> str | None:
    """The Hub commit (resolved when the Hub is reachable), or the content hash of a local build."""
    if Path(location).is_dir():
        return folder_sha256(Path(location))
    if revision and len(revision) == 40:
        return revision
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(location, revision=revision).sha or revision
    except Exception:  # offline or no access: keep what the user asked for
        return revision


def benign_demonstrations(items: list[BenignRequest], k: int) -> list[Demonstration]:
    """The first ``k`` benign train items taken round-robin over principles (file order within each),
    as demonstrations: the request as instruction, the reference answer as response."""
    if k < 0:
        raise MedSafetyError(f"--benign {k}: must be >= 0")
    queues = {p: [i for i in items if i.principle == p and i.split == "train"] for p in Principle}
    available = sum(len(q) for q in queues.values())
    if k > available:
        raise MedSafetyError(f"--benign {k}: medical_benign has only {available} train items")
    chosen: list[BenignRequest] = []
    depth = 0
    while len(chosen) < k:
        chosen += [q[depth] for q in queues.values() if depth < len(q)][: k - len(chosen)]
        depth += 1
    return [
        Demonstration(
            id=b.id,
            instruction=b.request,
            response=b.reference_answer,
            origin=Origin.MEDICAL,  # medical domain; the benign- id and the manifest's `benign` mark its source
            rank=rank,
            request_id=None,
            source_file=b.source_file,
        )
        for rank, b in enumerate(chosen)
    ]


def load_mix(
    mix: str, n: int, data: str | None, revision: str | None, benign: int = 0
) -> tuple[list[Demonstration], DataSource]:
    """Upstream's ``mix`` subset of size ``n`` (in upstream's order), then ``benign`` benign train items
    (:func:`benign_demonstrations`; the trainer shuffles with its seed), and where they came from;
    ``data`` is a build folder or Hub repo id (default ``$MEDSAFETYBENCH_REPO_ID``). With ``benign=0``
    the demonstrations are upstream's mix exactly."""
    from ..dataset.finetune_subsets import finetune_subset
    from ..dataset.loader import records, resolve_repo

    location = resolve_repo(data)
    demos = finetune_subset(mix, n, location, revision)  # type: ignore[arg-type]
    if benign:
        rows = list(records("medical_benign", "train", repo_id=location, revision=revision))
        demos = demos + benign_demonstrations(rows, benign)  # type: ignore[arg-type]
    source = DataSource(
        location=location,
        revision=dataset_revision(location, revision),
        mix=mix,  # type: ignore[arg-type]
        n=n,
        benign=benign,
    )
    return demos, source

"""A run folder and its stages: generate and judge append rows; settings hashes decide what is reused.

Files: ``run.json`` (:class:`RunManifest`), ``items.jsonl``, ``generations.jsonl``,
``judgments.jsonl``; the report adds ``summary.json``, ``report.md`` and a PNG chart. A row is
reused only if its settings hash and the hash of the item's request (and, for judgments, the hash of
the judged answer) match the current ones; when several rows share a key the last one wins, so ``--force`` just appends.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import MedSafetyError
from ..core.files import atomic_write_text, sha256_text
from ..core.text import utc_now
from ..dataset.records import BenignRequest, GeneratedRequest, MedicalRequest, Principle, Source
from .generation import Completion, Generator, PromptJob
from .jsonl import JsonlFile
from .judges import Judge, JudgeInput
from .rows import (
    ChatMessage,
    DataSelection,
    EvalItem,
    GenerationRecord,
    GenerationRun,
    GenerationSettings,
    JudgmentRecord,
    RunManifest,
    settings_hash,
)

__all__ = [
    "Progress",
    "RunFolder",
    "StageResult",
    "generate_stage",
    "judge_stage",
    "per_principle_ids",
    "select_items",
]

Progress = Callable[[str, int], AbstractContextManager[Callable[[], None]]]
"""``progress(label, total)``: a context whose value is called once per finished item (the CLI draws bars)."""


def per_principle_ids(records: Sequence[MedicalRequest | GeneratedRequest | BenignRequest], k: int) -> set[str]:
    """The ids of K items per principle (per side), taken in turn from each source (gpt4, llama2,
    llama3), each source in dataset order, until K or every source is used up: K = 2 gives one GPT-4
    and one Llama-2 request, so per-source figures cover both sources."""
    groups: dict[tuple[bool, Principle], dict[Source | None, list[str]]] = {}
    for r in records:
        benign = isinstance(r, BenignRequest)
        src = None if benign else r.source  # type: ignore[union-attr]
        groups.setdefault((benign, r.principle), {}).setdefault(src, []).append(r.id)
    chosen: set[str] = set()
    for by_source in groups.values():
        queues = [by_source[s] for s in sorted(by_source, key=lambda s: list(Source).index(s) if s else -1)]
        taken, depth = 0, 0
        while taken < k and any(depth < len(q) for q in queues):
            for q in queues:
                if taken < k and depth < len(q):
                    chosen.add(q[depth])
                    taken += 1
            depth += 1
    return chosen


def select_items(
    records: Iterable[MedicalRequest | GeneratedRequest | BenignRequest],
    source: Source | None = None,
    limit: int | None = None,
    per_principle: int | None = None,
) -> list[EvalItem]:
    """Items in dataset order, optionally one source, K per principle (:func:`per_principle_ids`),
    then the first N.

    ``BenignRequest`` records become ``benign`` items (no source; a source filter skips them)."""
    items: list[EvalItem] = []
    kept = [
        r
        for r in records
        if source is None or (not isinstance(r, BenignRequest) and r.source == source)  # type: ignore[union-attr]
    ]
    if per_principle is not None:
        chosen = per_principle_ids(kept, per_principle)
        kept = [r for r in kept if r.id in chosen]
    for r in kept:
        benign = isinstance(r, BenignRequest)
        if benign:
            items.append(EvalItem(id=r.id, request=r.request, principle=r.principle, side="benign"))
        else:
            items.append(EvalItem(id=r.id, request=r.request, principle=r.principle, source=r.source))  # type: ignore[union-attr]
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise MedSafetyError("the selected records repeat an id; ids must be unique")
    return items[:limit] if limit is not None else items


class RunFolder:
    """Typed access to the files of one run folder."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.items_file = JsonlFile(self.path / "items.jsonl", EvalItem)
        self.generations = JsonlFile(self.path / "generations.jsonl", GenerationRecord)
        self.judgments = JsonlFile(self.path / "judgments.jsonl", JudgmentRecord)
        self.manifest_path = self.path / "run.json"

    def manifest(self) -> RunManifest:
        if not self.manifest_path.exists():
            return RunManifest()
        try:
            return RunManifest.model_validate_json(self.manifest_path.read_bytes())
        except ValueError as exc:
            raise MedSafetyError(f"{self.manifest_path}: not a valid run manifest ({exc.__class__.__name__})") from None

    def save_manifest(self, manifest: RunManifest) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        manifest.updated = utc_now()
        atomic_write_text(self.manifest_path, manifest.model_dump_json(indent=2) + "\n")

    def items(self) -> list[EvalItem]:
        items = self.items_file.read()
        if not items:
            raise MedSafetyError(f"{self.path}: no items.jsonl; run `medsafetybench generate` first")
        return items

    def write_items(self, items: Sequence[EvalItem], selection: DataSelection) -> None:
        """Replace the item list (atomically) and record the selection in the manifest."""
        atomic_write_text(self.items_file.path, "".join(i.model_dump_json() + "\n" for i in items))
        manifest = self.manifest()
        manifest.selection, manifest.n_items = selection, len(items)
        self.save_manifest(manifest)

    def _request_shas(self, items: Sequence[EvalItem] | None) -> dict[str, str]:
        return {i.id: sha256_text(i.request) for i in (self.items_file.read() if items is None else items)}

    def current_generations(
        self, generation_hash: str | None = None, items: Sequence[EvalItem] | None = None
    ) -> dict[str, GenerationRecord]:
        """Latest generation row per item under the given (default: the manifest's) settings hash
        whose request hash matches the item's current text (items default to ``items.jsonl``)."""
        h = generation_hash or self.manifest().generation_hash
        shas = self._request_shas(items)
        return {r.id: r for r in self.generations.read() if r.settings_hash == h and shas.get(r.id) == r.request_sha256}

    def current_judgments(
        self,
        judge_hash: str,
        answers: dict[str, GenerationRecord],
        items: Sequence[EvalItem] | None = None,
    ) -> dict[str, JudgmentRecord]:
        """Latest judgment per item by this judge of the item's current request and answer."""
        shas = {i: sha256_text(g.answer) for i, g in answers.items()}
        requests = self._request_shas(items)
        return {
            r.id: r
            for r in self.judgments.read()
            if r.judge_hash == judge_hash
            and shas.get(r.id) == r.answer_sha256
            and requests.get(r.id) == r.request_sha256
        }


@dataclass(frozen=True)
class StageResult:
    name: str
    total: int
    reused: int
    done: int
    unanswered: tuple[str, ...] = ()
    """Judge stages: items left out because they have no current answer yet (or the provider gave none)."""
    failed: dict[str, int] = field(default_factory=dict)
    """Rows written this time whose call failed for good, by outcome (retried on the next run)."""


@contextmanager
def _no_progress(label: str, total: int) -> Iterator[Callable[[], None]]:
    yield lambda: None


def generate_stage(
    folder: RunFolder,
    items: Sequence[EvalItem],
    settings: GenerationSettings,
    make_generator: Callable[[], Generator],
    force: bool = False,
    progress: Progress | None = None,
) -> StageResult:
    """Generate answers for items lacking a row under ``settings``; each row is saved as it comes.

    The generator is only built (model loaded) if something is left to do.
    """
    h = settings_hash(settings)
    manifest = folder.manifest()
    manifest.generation, manifest.generation_hash = settings, h
    folder.save_manifest(manifest)
    existing = {} if force else folder.current_generations(h, items)
    todo = [i for i in items if i.id not in existing or existing[i.id].outcome is not None]
    if not todo:
        return StageResult("generate", len(items), len(items), 0)
    started = time.perf_counter()
    generator = make_generator()
    load_seconds = time.perf_counter() - started
    new_tokens = 0
    jobs = [PromptJob(i.id, generator.render(i.request)) for i in todo]
    prompts = {j.id: j.prompt for j in jobs}
    request_shas = {i.id: sha256_text(i.request) for i in todo}
    failed: Counter[str] = Counter()
    with folder.generations.writer() as writer, (progress or _no_progress)("generate", len(jobs)) as advance:

        def save(c: Completion) -> None:
            nonlocal new_tokens
            prompt = prompts[c.id]
            writer.write(
                GenerationRecord(
                    id=c.id,
                    settings_hash=h,
                    request_sha256=request_shas[c.id],
                    prompt=prompt if isinstance(prompt, str) else [ChatMessage(**m) for m in prompt],  # type: ignore[arg-type]
                    answer=c.text,
                    n_prompt_tokens=c.n_prompt_tokens,
                    n_new_tokens=c.n_new_tokens,
                    finish_reason=c.finish_reason,
                    outcome=c.outcome,
                    error=c.error,
                    model=settings.model,
                    backend=settings.backend,
                )
            )
            if c.outcome is not None:
                failed[c.outcome] += 1
            new_tokens += c.n_new_tokens or 0
            advance()

        try:
            started = time.perf_counter()
            generator.generate(jobs, save)
            generated = GenerationRun(
                model_files=getattr(generator, "model_files", None),  # local backends: the folder actually loaded
                load_seconds=round(load_seconds, 3),
                generate_seconds=round(time.perf_counter() - started, 3),
                items=writer.count,
                new_tokens=new_tokens,
            )
        finally:
            generator.close()
    manifest = folder.manifest()
    manifest.last_generation = generated
    folder.save_manifest(manifest)
    return StageResult("generate", len(items), len(items) - len(todo), writer.count, failed=dict(failed))


def judge_stage(
    folder: RunFolder, judges: Sequence[Judge], force: bool = False, progress: Progress | None = None
) -> list[StageResult]:
    """Judge the current answers with each judge; rows are saved as they come.

    Items without a current answer are not judged; each result lists them in ``unanswered``.
    """
    manifest = folder.manifest()
    if manifest.generation_hash is None:
        raise MedSafetyError(f"{folder.path}: no generation settings in run.json; run `medsafetybench generate` first")
    items = folder.items()
    answers = {k: g for k, g in folder.current_generations(items=items).items() if g.outcome is None}
    missing = tuple(i.id for i in items if i.id not in answers)
    results = []
    for judge in judges:
        jh = settings_hash(judge.settings)
        manifest.judges = [j for j in manifest.judges if j.spec != judge.settings.spec] + [judge.settings]
        folder.save_manifest(manifest)
        current = {} if force else folder.current_judgments(jh, answers, items)
        done = {k: r for k, r in current.items() if r.failure_kind != "provider_error"}
        inputs = [
            JudgeInput(
                i.id,
                i.request,
                answers[i.id].answer,
                sha256_text(answers[i.id].answer),
                manifest.generation_hash,
                sha256_text(i.request),
            )
            for i in items
            if i.id in answers and i.id not in done and i.side in judge.sides
        ]
        with (
            folder.judgments.writer() as writer,
            (progress or _no_progress)(f"judge {judge.settings.spec}", len(inputs)) as advance,
        ):
            failed: Counter[str] = Counter()

            def save(record: JudgmentRecord, failed: Counter[str] = failed) -> None:
                writer.write(record)
                if record.failure_kind == "provider_error":
                    failed["provider_error"] += 1
                advance()

            judge.judge(inputs, save)
        name = f"judge {judge.settings.spec}"
        total = sum(1 for i in items if i.id in answers and i.side in judge.sides)
        results.append(StageResult(name, total, len(done), writer.count, missing, dict(failed)))
    return results

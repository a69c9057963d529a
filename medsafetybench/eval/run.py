"""A run folder and its stages: generate and judge append rows; settings hashes decide what is reused.

Files: ``run.json`` (:class:`RunManifest`), ``items.jsonl``, ``generations.jsonl``,
``judgments.jsonl``; the report adds ``summary.json``, ``report.md`` and a PNG chart. A row is
reused only if its settings hash and the hash of the item's request (and, for judgments, the hash of
the judged answer) match the current ones; when several rows share a key the last one wins, so ``--force`` just appends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import MedSafetyError
from ..core.files import atomic_write_text, sha256_text
from ..core.text import utc_now
from ..dataset.records import GeneratedRequest, MedicalRequest, Principle, Source
from .generation import Completion, Generator, PromptJob
from .jsonl import JsonlFile
from .judges import Judge, JudgeInput
from .rows import (
    ChatMessage,
    DataSelection,
    EvalItem,
    GenerationRecord,
    GenerationSettings,
    JudgmentRecord,
    RunManifest,
    settings_hash,
)

__all__ = ["Progress", "RunFolder", "StageResult", "generate_stage", "judge_stage", "select_items"]

Progress = Callable[[str, int], AbstractContextManager[Callable[[], None]]]
"""``progress(label, total)``: a context whose value is called once per finished item (the CLI draws bars)."""


def select_items(
    records: Iterable[MedicalRequest | GeneratedRequest],
    source: Source | None = None,
    limit: int | None = None,
    per_principle: int | None = None,
) -> list[EvalItem]:
    """Items in dataset order, optionally one source, the first K per principle, then the first N."""
    items: list[EvalItem] = []
    taken: dict[Principle, int] = {}
    for r in records:
        if source is not None and r.source != source:
            continue
        if per_principle is not None:
            if taken.get(r.principle, 0) >= per_principle:
                continue
            taken[r.principle] = taken.get(r.principle, 0) + 1
        items.append(EvalItem(id=r.id, request=r.request, principle=r.principle, source=r.source))
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
        manifest.selection = selection
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
    """Judge stages: items left out because they have no current answer yet."""


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
    todo = [i for i in items if i.id not in existing]
    if not todo:
        return StageResult("generate", len(items), len(items), 0)
    generator = make_generator()
    jobs = [PromptJob(i.id, generator.render(i.request)) for i in todo]
    prompts = {j.id: j.prompt for j in jobs}
    request_shas = {i.id: sha256_text(i.request) for i in todo}
    with folder.generations.writer() as writer, (progress or _no_progress)("generate", len(jobs)) as advance:

        def save(c: Completion) -> None:
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
                    model=settings.model,
                    backend=settings.backend,
                )
            )
            advance()

        try:
            generator.generate(jobs, save)
        finally:
            generator.close()
    return StageResult("generate", len(items), len(items) - len(todo), writer.count)


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
    answers = folder.current_generations(items=items)
    missing = tuple(i.id for i in items if i.id not in answers)
    results = []
    for judge in judges:
        jh = settings_hash(judge.settings)
        manifest.judges = [j for j in manifest.judges if j.spec != judge.settings.spec] + [judge.settings]
        folder.save_manifest(manifest)
        done = {} if force else folder.current_judgments(jh, answers, items)
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
            if i.id in answers and i.id not in done
        ]
        with (
            folder.judgments.writer() as writer,
            (progress or _no_progress)(f"judge {judge.settings.spec}", len(inputs)) as advance,
        ):

            def save(record: JudgmentRecord) -> None:
                writer.write(record)
                advance()

            judge.judge(inputs, save)
        name = f"judge {judge.settings.spec}"
        results.append(StageResult(name, len(items) - len(missing), len(done), writer.count, missing))
    return results

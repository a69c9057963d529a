"""``medical_benign``: the benign contrast set written for this package (not upstream data).

Each item is the legitimate twin of one benchmark request: same topic and much of the same vocabulary,
but a request a competent, ethical clinical assistant should answer. It measures over-refusal, the
other side of MedSafetyBench. Items live in ``benign_data/p{N}.jsonl`` (one file per principle, one
JSON object per line); the build reads them strictly and every quality rule is checked by the
validators (:func:`benign_issues`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from ..core.errors import MedSafetyError
from .leakage import CHAR_N, CHAR_THRESHOLD
from .records import BenignRequest, MedicalRequest, Principle, Split
from .textsim import char_ngrams, jaccard_matrix, trigrams, words
from .upstream_reader import UpstreamData

__all__ = [
    "BENIGN_LICENSE",
    "BENIGN_VERSION",
    "NEAR_TRIGRAM",
    "NEAR_WORDS",
    "add_benign",
    "benign_dir",
    "benign_issues",
    "read_benign",
]

BENIGN_VERSION = "1.0.0"
"""Version of the contrast set; bumped whenever an item is added, removed or edited."""
BENIGN_LICENSE = "mit"
NEAR_WORDS = 0.6
"""Two requests are near duplicates at word-set Jaccard >= this ..."""
NEAR_TRIGRAM = 0.4
"""... or at word-trigram Jaccard >= this, or at the benchmark search's character n-gram threshold (stricter
word and trigram thresholds than the benchmark's own near-duplicate search: a benign twin must stay clear)."""
_FILE = re.compile(r"^p([1-9])\.jsonl$")
_KEYS = ("id", "request", "principle", "split", "twin_id", "contrast_type", "reference_answer")


def benign_dir() -> Path:
    """The packaged contrast set folder."""
    return Path(str(resources.files("medsafetybench.dataset").joinpath("benign_data")))


def _fail(rel: str, line: int, message: str) -> MedSafetyError:
    return MedSafetyError(f"{rel}:{line}: {message}")


def _read_file(path: Path, rel: str, principle: Principle) -> list[BenignRequest]:
    out = []
    for line_no, line in enumerate(path.read_text("utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(rel, line_no, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict) or sorted(obj) != sorted(_KEYS):
            got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            raise _fail(rel, line_no, f"keys {got} != expected {sorted(_KEYS)}")
        if obj["principle"] != principle.value:
            raise _fail(rel, line_no, f"principle {obj['principle']!r} in a file of principle {principle.value}")
        try:
            rec = BenignRequest(**obj, source_file=rel, source_row=line_no - 1)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise _fail(rel, line_no, f"{where}: {err['msg']} (value {err.get('input')!r:.60})") from None
        out.append(rec)
    return out


def read_benign(
    folder: Path | None = None, medical: Mapping[str, MedicalRequest] | None = None
) -> dict[Split, list[BenignRequest]]:
    """Read the contrast set (the packaged one by default), train and test, in file order.

    With ``medical`` (benchmark records by id), every twin must exist with the same principle and split:
    otherwise a one-line error names the file and line."""
    folder = folder or benign_dir()
    if not folder.is_dir():
        raise MedSafetyError(f"{folder}: benign contrast set folder does not exist")
    files = sorted(p for p in folder.iterdir() if _FILE.match(p.name))
    if not files:
        raise MedSafetyError(f"{folder}: no p1.jsonl ... p9.jsonl files")
    out: dict[Split, list[BenignRequest]] = {Split.TRAIN: [], Split.TEST: []}
    for path in files:
        rel = f"benign/{path.name}"
        records = _read_file(path, rel, Principle(int(_FILE.match(path.name).group(1))))  # type: ignore[union-attr]
        for rec in records:
            if medical is not None:
                problem = _twin_problem(rec, medical)
                if problem:
                    raise _fail(rel, rec.source_row + 1, problem)
            out[rec.split].append(rec)
    return out


def _twin_problem(rec: BenignRequest, medical: Mapping[str, MedicalRequest]) -> str | None:
    twin = medical.get(rec.twin_id)
    if twin is None:
        return f"{rec.id}: twin_id {rec.twin_id!r} is not a benchmark request id"
    if twin.split != rec.split:
        return f"{rec.id}: twin {rec.twin_id} is in split {twin.split.value}, the item in {rec.split.value}"
    if twin.principle != rec.principle:
        return f"{rec.id}: twin {rec.twin_id} has principle {twin.principle.value}, the item {rec.principle.value}"
    return None


def _near_pairs(a: Sequence[str], b: Sequence[str] | None) -> list[tuple[int, int, float, float]]:
    """Index pairs (i, j) with word-set or trigram Jaccard at or above the thresholds (i < j when b is None)."""
    import numpy as np

    wa, ta, ca = [words(t) for t in a], [trigrams(t) for t in a], [char_ngrams(t, CHAR_N) for t in a]
    if b is None:
        wb, tb, cb = wa, ta, ca
    else:
        wb, tb, cb = [words(t) for t in b], [trigrams(t) for t in b], [char_ngrams(t, CHAR_N) for t in b]
    jw, jt, jc = jaccard_matrix(wa, wb), jaccard_matrix(ta, tb), jaccard_matrix(ca, cb)
    hit = (jw >= NEAR_WORDS) | (jt >= NEAR_TRIGRAM) | (jc >= CHAR_THRESHOLD)
    if b is None:
        hit = np.triu(hit, k=1)
    return [(int(i), int(j), float(jw[i, j]), float(jt[i, j])) for i, j in zip(*np.nonzero(hit), strict=True)]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def benign_issues(benign: Sequence[BenignRequest], medical: Iterable[MedicalRequest]) -> list[str]:
    """Every broken quality rule of the contrast set, one line each (empty when all hold).

    Rules: each twin_id resolves to a benchmark request of the same principle and split, and is used once;
    no benign request equals or near-duplicates a harmful one; no two benign requests are near duplicates
    (near = word-set Jaccard >= NEAR_WORDS, word-trigram Jaccard >= NEAR_TRIGRAM or character n-gram
    Jaccard >= the benchmark search's CHAR_THRESHOLD)."""
    medical = list(medical)
    by_id = {m.id: m for m in medical}
    issues = [f"{b.source_file}:{b.source_row + 1}: {p}" for b in benign if (p := _twin_problem(b, by_id))]
    for twin, n in Counter(b.twin_id for b in benign).items():
        if n > 1:
            issues.append(f"twin_id {twin} is used by {n} benign items")
    harmful = {_norm(m.request): m.id for m in medical}
    for b in benign:
        if _norm(b.request) in harmful:
            issues.append(f"{b.id}: request equals harmful request {harmful[_norm(b.request)]}")
    texts = [b.request for b in benign]
    for i, j, jw, jt in _near_pairs(texts, [m.request for m in medical]):
        issues.append(f"{benign[i].id}: near-duplicates harmful {medical[j].id} (word-set {jw:.2f}, trigram {jt:.2f})")
    for i, j, jw, jt in _near_pairs(texts, None):
        issues.append(f"{benign[i].id} and {benign[j].id}: near duplicates (word-set {jw:.2f}, trigram {jt:.2f})")
    return issues


def add_benign(data: UpstreamData, folder: Path | None = None) -> None:
    """Add the contrast set's train and test tables to ``data`` (twins checked against its benchmark)."""
    medical = {r.id: r for name in ("medical_train", "medical_test") for r in data.tables[name]}
    split = read_benign(folder, medical)  # type: ignore[arg-type]
    data.tables["medical_benign_train"] = list(split[Split.TRAIN])
    data.tables["medical_benign_test"] = list(split[Split.TEST])


def benign_card_section(benign: Sequence[BenignRequest], medical: Sequence[MedicalRequest]) -> str:
    """The card's description of the contrast set, every number computed from the rows."""
    import numpy as np

    from ..core.text import md_table

    by_id = {m.id: m for m in medical}
    counts = Counter((b.principle, b.split) for b in benign)
    rows = [
        [
            p.value,
            f"`{p.slug}`",
            counts[(p, Split.TRAIN)],
            counts[(p, Split.TEST)],
            counts[(p, Split.TRAIN)] + counts[(p, Split.TEST)],
        ]
        for p in Principle
    ]
    rows.append(["", "**total**", *(sum(counts[(p, s)] for p in Principle) for s in Split), len(benign)])
    kinds = Counter(b.contrast_type.value for b in benign)
    twin = [
        len(words(b.request) & words(by_id[b.twin_id].request))
        / len(words(b.request) | words(by_id[b.twin_id].request))
        for b in benign
    ]
    texts, harm = [b.request for b in benign], [m.request for m in medical]
    measures = (
        ("word-set", words),
        ("word-trigram", trigrams),
        (f"character {CHAR_N}-gram", lambda t: char_ngrams(t, CHAR_N)),
    )
    closest = []
    for name, feat in measures:
        fb = [feat(t) for t in texts]
        to_harm = jaccard_matrix(fb, [feat(t) for t in harm]).max()
        within = jaccard_matrix(fb)
        np.fill_diagonal(within, 0.0)
        closest.append([name, f"{to_harm:.2f}", f"{within.max():.2f}"])
    return "\n\n".join(
        [
            md_table(["#", "principle", "train", "test", "total"], rows),
            "Contrast types: " + ", ".join(f"`{k}` {n}" for k, n in kinds.most_common()) + ".",
            f"Shared vocabulary with the twin (word-set Jaccard): mean {np.mean(twin):.2f}, "
            f"max {max(twin):.2f}. Highest similarity of any benign request:",
            md_table(["measure", "to any of the harmful requests", "to another benign request"], closest),
        ]
    )

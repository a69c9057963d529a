"""What a judge is: a registered class that judges answers and defines its own numbers and report cells.

A judge class owns everything that depends on its kind, so scoring, report and compare only
iterate over judges:

- ``from_spec``: its ``--judge`` spec (``<name>`` or ``<name>:<args>``) -> a judge instance with
  :class:`JudgeSettings` (its provenance; their hash tags every row it writes);
- ``judge``: one :class:`JudgmentRecord` per answer (build it with :meth:`Judge.record`);
- ``group_stats``: its numbers on one group of items, a :class:`GroupStats` subclass of its own
  (its fields are the judge's fields in ``summary.json``);
- ``md_headers`` / ``md_cells``, ``console_headers`` / ``console_cells``: its columns in
  ``report.md`` and in the console table; ``report_note`` (formatted with ``{resamples}`` and
  ``{seed}``) / ``console_note``: how to read them;
- ``compare_metric`` / ``compare_value``: the per-item value ``compare`` pairs across runs;
- optional: ``ordinal_scale`` / ``ordinal_score`` (judges on the same scale get an agreement
  table), ``chart`` / ``chart_value`` (the bars of the per-principle chart).

Reports are made from ``run.json`` and the rows alone, so every method but ``judge`` is a
classmethod that receives the settings or the rows. Adding a judge = one module in this package
that defines and registers the class (``@register_judge("name")``), imported in ``__init__.py``,
and its tests; ``tests/eval/test_toy_judge.py`` is the smallest example.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ...core.errors import MedSafetyError
from ...core.registry import Registry
from ...dataset.records import PrincipleRecord
from ..openai_client import ApiOptions
from ..rows import JudgeSettings, JudgmentRecord, settings_hash

__all__ = [
    "JUDGES",
    "ChartAxis",
    "GroupStats",
    "Judge",
    "JudgeContext",
    "JudgeInput",
    "OnJudgment",
    "fmt_num",
    "fmt_pct",
    "judge_class",
    "judge_usage",
    "make_judge",
    "register_judge",
]


@dataclass(frozen=True)
class JudgeInput:
    """One answer to judge, with the hashes its judgment row records."""

    id: str
    request: str
    answer: str
    answer_sha256: str
    generation_hash: str
    request_sha256: str


OnJudgment = Callable[[JudgmentRecord], None]


@dataclass
class JudgeContext:
    """What judges may need to be built; each takes only what it uses."""

    load_principles: Callable[[], Sequence[PrincipleRecord]] | None = None
    """The dataset's ``principles`` config, loaded only if a judge asks for it."""
    api: ApiOptions = field(default_factory=ApiOptions)
    """The endpoint of judges that call an OpenAI-compatible API."""
    batch_size: int | None = None
    """Batch size of judges that run a local model."""
    upstream: str | None = None
    """Folder of the upstream release copy (``--upstream``), for judges that read upstream's code."""
    _principles: list[PrincipleRecord] | None = field(default=None, repr=False)

    def principles(self, spec: str) -> list[PrincipleRecord]:
        if self._principles is None:
            if self.load_principles is None:
                raise MedSafetyError(f"judge {spec}: the principles config is needed for its prompt")
            self._principles = list(self.load_principles())
        return self._principles


class GroupStats(BaseModel):
    """One judge's numbers on one group of items (``overall``, a principle slug, or a source).

    Each judge subclasses it with its own fields; these are the fields every judge has.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str
    kind: str = Field(description="The registered judge.")
    group: str
    side: str = Field(
        default="harmful", description="harmful (refusing is right) or benign (refusing is over-refusal)."
    )
    n_items: int = Field(description="Items in the group.")
    n_judged: int = Field(description="Items with a judgment of their current answer.")
    no_answer: dict[str, int] = Field(
        default_factory=dict,
        description="Items the provider gave no answer, by outcome (provider_refused, content_filter, "
        "provider_error): never judged; rubric bounds count them as 1 and as 5.",
    )


@dataclass(frozen=True)
class ChartAxis:
    """The y axis of the per-principle chart; the chart shows the judges of the lowest ``priority`` axis."""

    label: str
    limits: tuple[float, float]
    title: str  # formatted with {run}
    priority: int = 0
    file: str = "chart_by_principle.png"
    """The chart's file name in the run folder: named after what it plots."""


class Judge(ABC):
    """A judge; see the module docstring. Subclasses set the class attributes and the methods."""

    name: ClassVar[str] = ""  # set by @register_judge
    usage: ClassVar[tuple[str, ...]] = ()  # its spec forms, for help and errors (default: the name)
    stats_model: ClassVar[type[GroupStats]] = GroupStats
    report_note: ClassVar[str] = ""
    console_note: ClassVar[str] = ""
    compare_metric: ClassVar[str] = ""
    ordinal_scale: ClassVar[tuple[int, ...] | None] = None
    chart: ClassVar[ChartAxis | None] = None
    sides: ClassVar[tuple[str, ...]] = ("harmful",)
    """The sides whose items it judges (``harmful``, ``benign``); its stats are made per side."""

    settings: JudgeSettings

    # --- building and judging ---------------------------------------------------------------
    @classmethod
    @abstractmethod
    def from_spec(cls, spec: str, args: str | None, context: JudgeContext) -> Judge:
        """The judge for ``spec``; ``args`` is the text after ``<name>:`` (None for a bare name)."""

    @abstractmethod
    def judge(self, inputs: Sequence[JudgeInput], on_done: OnJudgment) -> None:
        """Judge each input; call ``on_done`` with its row as soon as it is ready."""

    def record(self, item: JudgeInput, **fields: Any) -> JudgmentRecord:
        """The judgment row of ``item`` with this judge's provenance and the given fields."""
        s = self.settings
        return JudgmentRecord(
            id=item.id,
            judge=s.spec,
            judge_hash=settings_hash(s),
            answer_sha256=item.answer_sha256,
            request_sha256=item.request_sha256,
            generation_hash=item.generation_hash,
            judge_model=s.model,
            prompt_version=s.prompt_version,
            temperature=s.temperature,
            **fields,
        )

    # --- numbers and report cells (from settings and rows only) -----------------------------
    @classmethod
    @abstractmethod
    def group_stats(cls, base: dict[str, Any], rows: Sequence[JudgmentRecord], resamples: int, seed: int) -> GroupStats:
        """Its numbers on the judged ``rows`` of a group; ``base`` holds the :class:`GroupStats` fields."""

    @classmethod
    @abstractmethod
    def md_headers(cls, settings: JudgeSettings) -> list[str]: ...

    @classmethod
    @abstractmethod
    def md_cells(cls, stats: Any) -> list[str]: ...

    @classmethod
    @abstractmethod
    def console_headers(cls, settings: JudgeSettings) -> list[str]: ...

    @classmethod
    @abstractmethod
    def console_cells(cls, stats: Any) -> list[str]: ...

    @classmethod
    @abstractmethod
    def compare_value(cls, row: JudgmentRecord) -> float | None:
        """The value ``compare`` pairs (None: the row is left out, e.g. a parse failure)."""

    @classmethod
    def side_md_headers(cls, settings: JudgeSettings, side: str) -> list[str]:
        """Its ``report.md`` columns on one side (default: :meth:`md_headers`)."""
        return cls.md_headers(settings)

    @classmethod
    def side_metric(cls, side: str) -> str:
        """The name of its compared value on one side (default: ``compare_metric``)."""
        return cls.compare_metric

    @classmethod
    def ordinal_score(cls, row: JudgmentRecord) -> int | None:
        """The row's score on ``ordinal_scale`` (for agreement between judges), if it has one."""
        return None

    @classmethod
    def chart_value(cls, stats: Any) -> tuple[float | None, float | None]:
        """The bar of one principle on the ``chart`` axis: value and error (None: no bar)."""
        return None, None


def fmt_num(x: float | None, digits: int = 2) -> str:
    """A report cell: the number with ``digits`` decimals, or ``–``."""
    return "–" if x is None else f"{x:.{digits}f}"


def fmt_pct(x: float | None) -> str:
    """A report cell: the share as a percentage with one decimal, or ``–``."""
    return "–" if x is None else f"{100 * x:.1f}%"


JUDGES: Registry[type[Judge]] = Registry("judge")


def register_judge(name: str) -> Callable[[type[Judge]], type[Judge]]:
    """Class decorator: register a :class:`Judge` subclass as ``name`` (the spec's first part)."""

    def decorate(cls: type[Judge]) -> type[Judge]:
        cls.name = name
        cls.usage = cls.usage or (name,)
        return JUDGES.add(name, cls)

    return decorate


def judge_usage() -> list[str]:
    """Every registered spec form, e.g. ``refusal``, ``rubric:<api model>``."""
    return [form for _, cls in JUDGES.items() for form in cls.usage]


def judge_class(kind: str) -> type[Judge]:
    """The registered judge class of a settings' ``kind``."""
    return JUDGES.get(kind)


def make_judge(spec: str, context: JudgeContext | None = None) -> Judge:
    """A judge from its spec, e.g. ``refusal``, ``rubric:gpt-4o-mini``, ``rubric:hf:<model>``."""
    name, sep, args = spec.partition(":")
    if name not in JUDGES:
        raise MedSafetyError(f"unknown judge {spec!r}: use {', '.join(judge_usage())}")
    return JUDGES.get(name).from_spec(spec, args if sep else None, context or JudgeContext())

"""The rows of a run folder: its manifest (``run.json``), items, generation and judgment rows.

One pydantic model per file; the settings models are hashed (:func:`settings_hash`) to tag every row.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core.files import sha256_text
from ..core.text import utc_now
from ..dataset.records import Principle, Source

__all__ = [
    "SIDES",
    "ChatMessage",
    "DataSelection",
    "EvalItem",
    "GenerationRecord",
    "GenerationRun",
    "GenerationSettings",
    "JudgeSettings",
    "JudgmentRecord",
    "RunManifest",
    "Side",
    "settings_hash",
]

Score = Annotated[int, Field(ge=1, le=5)]


def settings_hash(settings: BaseModel) -> str:
    """Short stable hash of a settings model (canonical JSON, sorted keys)."""
    canonical = json.dumps(settings.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return sha256_text(canonical)[:16]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Side = Literal["harmful", "benign"]
"""Which side of the benchmark an item is on: a harmful request (refusing is right) or a benign one
(``medical_benign``; refusing is over-refusal)."""
SIDES: tuple[Side, ...] = ("harmful", "benign")


class EvalItem(_Frozen):
    """One request to evaluate; ``id`` is the join key across every file of a run."""

    id: str
    request: str
    principle: Principle
    source: Source | None = Field(default=None, description="Who wrote a harmful request (None for benign items).")
    side: Side = "harmful"


class ChatMessage(_Frozen):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerationSettings(_Frozen):
    """Everything that changes a model's answers; its hash tags every generation row."""

    backend: str = Field(description="A registered generation backend (see ``eval.backends``).")
    model: str = Field(description="Resolved model: Hub id, local path, GGUF file or API model name.")
    adapter: str | None = None
    adapter_sha256: str | None = Field(
        default=None, description="SHA-256 of the adapter's config and weight files: a retrained adapter is new."
    )
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint (openai backend).")
    prompt_format: Literal["chat", "paper"]
    template: str = Field(description="chat, paper-llama2 or paper-medalpaca.")
    system_prompt: str | None = None
    max_new_tokens: int = Field(ge=1)
    dtype: str
    quantize: Literal["none", "int8"] = Field(
        default="none", description="int8: dynamic int8 Linear layers on CPU (hf backend); answers can differ."
    )
    ignore_eos: bool = False

    @field_validator("backend")
    @classmethod
    def _registered_backend(cls, name: str) -> str:
        from .backends import BACKENDS

        if name not in BACKENDS:
            raise ValueError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS.names())}")
        return name


class GenerationRecord(_Frozen):
    """One model answer (a line of ``generations.jsonl``)."""

    id: str
    settings_hash: str
    request_sha256: str | None = Field(default=None, description="Hash of the request: an edited item is redone.")
    prompt: str | list[ChatMessage]
    answer: str
    n_prompt_tokens: int | None = None
    n_new_tokens: int | None = None
    finish_reason: str | None = None
    outcome: Literal["provider_refused", "content_filter", "provider_error"] | None = Field(
        default=None,
        description="Set when the provider gave no answer (``answer`` is then empty): never judged, retried on rerun.",
    )
    error: str | None = Field(default=None, description="provider_error: the error class and message.")
    model: str
    backend: str
    time: str = Field(default_factory=utc_now)


class JudgeSettings(_Frozen):
    """Everything that changes a judgment; its hash tags every judgment row."""

    spec: str = Field(description="The --judge value, e.g. rubric:gpt-4o-mini or refusal.")
    kind: str = Field(description="The registered judge that made the judgments (see ``eval.judges``).")
    model: str | None = None
    backend: str = Field(description="The judge's generation backend, or offline.")
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint (openai backend).")
    prompt_version: str
    temperature: float = 0.0
    max_tokens: int | None = None


class JudgmentRecord(_Frozen):
    """One judgment of one answer (a line of ``judgments.jsonl``); a judge fills the fields it uses."""

    id: str
    judge: str = Field(description="Judge spec.")
    judge_hash: str
    answer_sha256: str = Field(description="Hash of the judged answer: a new answer is never matched to it.")
    request_sha256: str | None = Field(default=None, description="Hash of the request the answer replies to.")
    generation_hash: str
    score: Score | None = Field(default=None, description="1-5 harmfulness (rubric judges only).")
    reason: str | None = None
    refused: bool | None = Field(default=None, description="Refusal proxy (refusal judge only).")
    compliance: Literal["full_compliance", "partial_refusal", "full_refusal"] | None = Field(
        default=None, description="XSTest's three classes (overrefusal judges only)."
    )
    parse_failure: bool = False
    failure_kind: Literal["unparsable", "judge_refused", "provider_error"] | None = Field(
        default=None, description="provider_error: the judge's endpoint failed for good (retried on rerun)."
    )
    raw: str | None = Field(default=None, description="The judge's raw output.")
    attempts: int = 1
    judge_model: str | None = None
    prompt_version: str
    temperature: float
    time: str = Field(default_factory=utc_now)


class DataSelection(_Frozen):
    """Which items a run evaluates."""

    data: str | None = None
    revision: str | None = None
    config: str = Field(description="The config evaluated, or the suite (e.g. two-sided).")
    split: str | None = None
    source: Source | None = None
    limit: int | None = None
    per_principle: int | None = None


class GenerationRun(_Frozen):
    """One generation stage that generated something: where the weights came from and its timings."""

    model_files: str | None = Field(
        default=None,
        description="What the weights were loaded from (a GGUF's converted cache folder, a folder, a Hub id); "
        "local backends only.",
    )
    load_seconds: float = Field(description="Building the generator (loading, converting, quantizing the model).")
    generate_seconds: float
    items: int
    new_tokens: int


class RunManifest(BaseModel):
    """``run.json``: the current settings of a run folder (stages read and update it)."""

    model_config = ConfigDict(extra="forbid")

    selection: DataSelection | None = None
    n_items: int | None = Field(default=None, description="Lines written to items.jsonl (fewer read: lines lost).")
    generation: GenerationSettings | None = None
    generation_hash: str | None = None
    last_generation: GenerationRun | None = Field(
        default=None, description="What the last generation stage that ran loaded, and how fast it went."
    )
    judges: list[JudgeSettings] = Field(default_factory=list)
    created: str = Field(default_factory=utc_now)
    updated: str = Field(default_factory=utc_now)

"""Typed records of MedSafetyBench: the single source of truth for fields and Arrow features.

Every config of the Hub dataset stores one record type. ``features_for(Model)`` derives the
``datasets.Features`` (``ClassLabel`` for every enum field) from the pydantic model, and
``to_row`` / ``from_row`` convert between records and Arrow rows, so no second list of fields
exists anywhere.
"""

from __future__ import annotations

import enum
import functools
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "BenignRequest",
    "ContrastType",
    "Demonstration",
    "GeneratedRequest",
    "MedicalRequest",
    "MixOrder",
    "NearDuplicatePair",
    "Origin",
    "PairScope",
    "Principle",
    "PrincipleRecord",
    "Record",
    "Source",
    "Split",
    "features_for",
    "from_row",
    "json_schema",
    "row_json_schema",
    "to_row",
]


class Principle(enum.IntEnum):
    """AMA Principle of Medical Ethics, numbered 1-9 as in the AMA code and upstream file names."""

    COMPETENT_CARE = 1
    PROFESSIONALISM_HONESTY = 2
    LAW = 3
    PATIENT_RIGHTS_PRIVACY = 4
    SCIENTIFIC_KNOWLEDGE = 5
    FREEDOM_TO_CHOOSE = 6
    COMMUNITY_PUBLIC_HEALTH = 7
    PATIENT_PARAMOUNT = 8
    ACCESS_TO_CARE = 9

    @property
    def slug(self) -> str:
        """Short readable label, e.g. ``p4_patient_rights_privacy`` (the ClassLabel name)."""
        return f"p{self.value}_{self.name.lower()}"

    @classmethod
    def from_slug(cls, slug: str) -> Principle:
        for p in cls:
            if p.slug == slug:
                return p
        raise ValueError(f"unknown principle slug {slug!r}")


class Source(enum.StrEnum):
    """The LLM that wrote the harmful request (and its safe response, for the benchmark)."""

    GPT4 = "gpt4"
    LLAMA2 = "llama2"
    LLAMA3 = "llama3"


class Split(enum.StrEnum):
    TRAIN = "train"
    TEST = "test"


class Origin(enum.StrEnum):
    """Where a fine-tuning demonstration comes from."""

    MEDICAL = "medical"
    GENERAL = "general"


class PairScope(enum.StrEnum):
    """Where the two requests of a near-duplicate pair come from."""

    CROSS_SPLIT = "cross_split"  # id_a in test, id_b in train
    WITHIN_TRAIN = "within_train"
    WITHIN_TEST = "within_test"


class ContrastType(enum.StrEnum):
    """How a benign request relates to the harmful benchmark request it mirrors (its twin)."""

    LEGITIMATE_COUNTERPART = "legitimate_counterpart"  # the same task done the right way
    ETHICS_LAW_QUESTION = "ethics_law_question"  # what the ethical or legal rule is, or why
    SAFEGUARDING = "safeguarding"  # recognise, prevent, report or respond to the harmful behaviour
    CLINICIAN_WORKFLOW = "clinician_workflow"  # a clinician doing their job properly in that situation
    PATIENT_QUESTION = "patient_question"  # a patient or carer asking about their care, rights or options


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Unicode category Cc, minus tab and newline


def _check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("text is empty or whitespace-only")
    if m := _CONTROL.search(value):
        raise ValueError(f"text contains control character U+{ord(m.group()):04X}")
    return value


Text = Annotated[str, AfterValidator(_check_text)]
"""Non-empty text without control characters (newline and tab allowed)."""

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


class Record(BaseModel):
    """Base of all stored records: frozen, no unknown fields, enums by value."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class PrincipleRecord(Record):
    """One AMA principle; its text is read from the upstream data."""

    principle: Principle = Field(description="AMA principle (ClassLabel index 0-8 = principle 1-9).")
    text: Text = Field(description="Full principle text, as in the upstream data.")
    source_file: Text = Field(description="Upstream file the text was read from.")


class MedicalRequest(Record):
    """A benchmark item: a harmful medical request and the safe response upstream paired with it."""

    id: Id = Field(description="Stable id, e.g. med-test-gpt4-p1-000.")
    request: Text = Field(description="The harmful medical request, exactly as upstream released it.")
    safe_response: Text = Field(description="The safe response upstream paired with the request.")
    principle: Principle = Field(description="AMA principle the request violates (ClassLabel index 0-8 = 1-9).")
    source: Source = Field(description="LLM that wrote the request: gpt4 or llama2.")
    split: Split = Field(description="train or test.")
    source_file: Text = Field(description="Upstream file the row comes from.")
    source_row: Count = Field(description="0-based data row in source_file (header excluded).")


class GeneratedRequest(Record):
    """A Llama-3-generated harmful request from upstream's unfiltered pool (no response)."""

    id: Id = Field(description="Stable id, e.g. pool-llama3-p1-00000.")
    request: Text = Field(description="Cleaned text (special-token artifact and stray quote removed).")
    raw_request: str = Field(description="The upstream line exactly as released.")
    principle: Principle = Field(description="Principle the request was generated for (a weak label).")
    source: Source = Field(description="Always llama3 (Llama-3-8B-Instruct).")
    source_file: Text = Field(description="Upstream file the line comes from.")
    source_row: Count = Field(description="0-based line number in source_file.")
    has_special_token: bool = Field(description="Line carried a literal <|eot_id|> artifact.")
    is_repetition_loop: bool = Field(
        description="Degenerate loop: a phrase of six words (not a bare term) repeats three or more times."
    )
    is_fragment: bool = Field(description="Not a whole request: under four words, or starts mid-sentence.")
    has_annotation_tail: bool = Field(
        description="Ends with the generator's own label after the closing quote, e.g. `.\" (Unethical)`."
    )
    is_commentary: bool = Field(
        description="Not a request but the generator's commentary, e.g. `(Violates ...)` or `. (Example: ...)`."
    )
    is_truncated: bool = Field(description="Cut off mid-list, e.g. ending at `such as`.")
    has_json_debris: bool = Field(description='Carries JSON debris from the generator\'s output (`": "`).')
    equals_benchmark_request: bool = Field(
        description="Cleaned text equals a medical_train/medical_test request (case and spacing ignored)."
    )
    duplicate_of: Id | None = Field(
        description="Id of the first pool row with the same cleaned text (case, spacing, outer quotes ignored)."
    )


class BenignRequest(Record):
    """A benign medical request written for this package (not upstream data): the legitimate twin of one
    benchmark request, which a competent, ethical clinical assistant should answer helpfully."""

    id: Id = Field(description="Stable id, e.g. benign-test-p4-000.")
    request: Text = Field(description="The benign request (same topic and much of the vocabulary of its twin).")
    reference_answer: Text = Field(description="A short, correct, appropriately hedged helpful answer.")
    principle: Principle = Field(description="AMA principle of the twin (ClassLabel index 0-8 = principle 1-9).")
    split: Split = Field(description="The twin's split: train or test.")
    twin_id: Id = Field(description="The MedicalRequest this item mirrors (same principle and split).")
    contrast_type: ContrastType = Field(description="How the request relates to its twin.")
    source_file: Text = Field(description="Package file the item comes from, e.g. benign/p4.jsonl.")
    source_row: Count = Field(description="0-based line in source_file.")


class Demonstration(Record):
    """A fine-tuning demonstration (Alpaca instruction/output) used by upstream's safety tuning."""

    id: Id = Field(description="demo-medical-000 or demo-general-000 (rank in the id).")
    instruction: Text = Field(description="The request (Alpaca `instruction`).")
    response: Text = Field(description="The safe response (Alpaca `output`).")
    origin: Origin = Field(description="medical (MedSafetyBench train pairs) or general (Bianchi et al. 2023).")
    rank: Count = Field(description="0-based position in upstream's ordering; med_nK/gen_nK = ranks < K.")
    request_id: Id | None = Field(description="The MedicalRequest this pairs with (medical only).")
    source_file: Text = Field(description="Upstream file whose row `rank` this is (the largest nN file).")


class MixOrder(Record):
    """Position of a demonstration inside one upstream ``ft_safety_both_nN.json`` (a shuffled mix)."""

    n: Positive = Field(description="Size N of the upstream file ft_safety_both_nN.json.")
    position: Count = Field(description="0-based row in that file.")
    demonstration_id: Id = Field(description="The Demonstration at that row.")


class NearDuplicatePair(Record):
    """Two benchmark requests that (nearly) repeat each other, found by an exhaustive search of all pairs."""

    id_a: Id = Field(description="The test request of a cross-split pair; otherwise the smaller id.")
    id_b: Id = Field(description="The other request (the train request of a cross-split pair).")
    scope: PairScope = Field(description="cross_split (a in test, b in train), within_train or within_test.")
    principle_a: Principle = Field(description="Principle label of id_a (ClassLabel index 0-8 = 1-9).")
    principle_b: Principle = Field(description="Principle label of id_b; differs from principle_a = label noise.")
    word_jaccard: float = Field(
        ge=0, le=1, description="Jaccard similarity of the lower-cased word sets (singular and plural merged)."
    )
    trigram_jaccard: float = Field(ge=0, le=1, description="Jaccard similarity of the word-trigram sets.")
    char_jaccard: float = Field(ge=0, le=1, description="Jaccard similarity of the character 5-gram sets.")
    exact: bool = Field(description="Same text once case, spacing and outer quotes are ignored.")
    cluster: Id = Field(description="Connected component of near-duplicate pairs, e.g. ndup-007.")


RecordT = TypeVar("RecordT", bound=Record)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """Strip Annotated/Optional; return (base type, nullable)."""
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                raise TypeError(f"unsupported union {annotation!r}")
            annotation = args[0]
        else:
            return annotation, nullable


def _class_names(enum_type: type[enum.Enum]) -> list[str]:
    if issubclass(enum_type, Principle):
        return [p.slug for p in Principle]
    return [str(m.value) for m in enum_type]


def features_for(model: type[Record]) -> Any:
    """``datasets.Features`` for a record type, derived from its fields."""
    from datasets import ClassLabel, Features, Value

    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        base, _ = _unwrap(field.annotation)
        if isinstance(base, type) and issubclass(base, enum.Enum):
            out[name] = ClassLabel(names=_class_names(base))
        elif base is bool:
            out[name] = Value("bool")
        elif base is int:
            out[name] = Value("int32")
        elif base is float:
            out[name] = Value("float64")
        elif base is str:
            out[name] = Value("string")
        else:  # pragma: no cover - guarded by tests on every record type
            raise TypeError(f"{model.__name__}.{name}: no Arrow type for {base!r}")
    return Features(out)


@functools.cache
def _enum_fields(model: type[Record]) -> dict[str, list[enum.Enum]]:
    out = {}
    for name, field in model.model_fields.items():
        base, _ = _unwrap(field.annotation)
        if isinstance(base, type) and issubclass(base, enum.Enum):
            out[name] = list(base)
    return out


def to_row(record: Record) -> dict[str, Any]:
    """Arrow row of a record: enum fields become ClassLabel indices."""
    row = record.model_dump()
    for name, members in _enum_fields(type(record)).items():
        row[name] = members.index(getattr(record, name))
    return row


def from_row(model: type[RecordT], row: Mapping[str, Any]) -> RecordT:
    """Validate an Arrow row (ClassLabel indices) into a record; raises on out-of-range labels."""
    data = dict(row)
    for name, members in _enum_fields(model).items():
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(members):
                raise ValueError(f"{name}: class index {value} outside 0..{len(members) - 1}")
            data[name] = members[value]
    return model.model_validate(data)


RECORD_TYPES: dict[str, type[Record]] = {
    "MedicalRequest": MedicalRequest,
    "BenignRequest": BenignRequest,
    "GeneratedRequest": GeneratedRequest,
    "Demonstration": Demonstration,
    "MixOrder": MixOrder,
    "PrincipleRecord": PrincipleRecord,
    "NearDuplicatePair": NearDuplicatePair,
}


_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of a typed record: exactly one of the record types in ``$defs``.

    Describes records as ``Record.model_dump(mode="json")`` gives them: ``principle`` is the AMA principle
    number 1-9 and every enum is its value. Stored rows differ (ClassLabel indices): see :func:`row_json_schema`.
    """
    from pydantic.json_schema import models_json_schema

    refs, doc = models_json_schema([(m, "validation") for m in RECORD_TYPES.values()], ref_template="#/$defs/{model}")
    return {
        "$schema": _DRAFT,
        "title": "MedSafetyBench typed records",
        "description": (
            "One MedSafetyBench record (pydantic model_dump(mode='json')): exactly one of the record types in "
            "$defs. `principle` is the AMA principle number 1-9; enums are their string values. Parquet rows "
            "store ClassLabel indices instead (principle 0-8): see the row schema."
        ),
        "type": "object",
        "oneOf": list(refs.values()),
        "$defs": doc["$defs"],
    }


def _class_label_def(enum_type: type[enum.Enum]) -> dict[str, Any]:
    names = _class_names(enum_type)
    return {
        "type": "integer",
        "minimum": 0,
        "maximum": len(names) - 1,
        "description": f"ClassLabel index of {enum_type.__name__}: "
        + ", ".join(f"{i} = {n}" for i, n in enumerate(names))
        + ".",
    }


def row_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of a stored row (parquet / ``datasets``): enums are ClassLabel indices.

    ``principle`` is 0-8 here (principle number minus one); every other field is as in :func:`json_schema`.
    """
    records = json_schema()
    defs: dict[str, Any] = {}
    for name, model in RECORD_TYPES.items():
        schema = dict(records["$defs"][name])
        props = {k: dict(v) for k, v in schema["properties"].items()}
        for field, members in _enum_fields(model).items():
            label = f"{type(members[0]).__name__}Index"
            defs.setdefault(label, _class_label_def(type(members[0])))
            props[field] = {"$ref": f"#/$defs/{label}", "description": props[field].get("description", "")}
        defs[f"{name}Row"] = {**schema, "title": f"{name}Row", "properties": props}
    return {
        "$schema": _DRAFT,
        "title": "MedSafetyBench stored rows",
        "description": (
            "One row of a MedSafetyBench parquet file as `datasets` returns it: exactly one of the row types in "
            "$defs. Enum fields are ClassLabel integer indices: `principle` 0-8 is AMA principle 1-9 "
            "(add 1 for the principle number); `features[name].int2str(i)` gives the name."
        ),
        "type": "object",
        "oneOf": [{"$ref": f"#/$defs/{name}Row"} for name in RECORD_TYPES],
        "$defs": dict(sorted(defs.items())),
    }

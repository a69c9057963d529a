from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from datasets import ClassLabel, Value
from pydantic import ValidationError

from medsafetybench.dataset.configtable import config_table
from medsafetybench.dataset.records import (
    RECORD_TYPES,
    MedicalRequest,
    Principle,
    Source,
    Split,
    features_for,
    from_row,
    json_schema,
    row_json_schema,
    to_row,
)


def _req(**kw):
    base = dict(
        id="med-test-gpt4-p1-000",
        request="Q?",
        safe_response="A.",
        principle=Principle(1),
        source=Source.GPT4,
        split=Split.TEST,
        source_file="f.csv",
        source_row=0,
    )
    return MedicalRequest(**{**base, **kw})


def test_features_are_derived_from_the_schema():
    f = features_for(MedicalRequest)
    assert list(f) == list(MedicalRequest.model_fields)
    assert f["principle"] == ClassLabel(names=[p.slug for p in Principle])
    assert f["principle"].names[3] == "p4_patient_rights_privacy"
    assert f["source"] == ClassLabel(names=["gpt4", "llama2", "llama3"])
    assert f["split"] == ClassLabel(names=["train", "test"])
    assert f["request"] == Value("string") and f["source_row"] == Value("int32")


def test_every_record_type_has_features_and_every_table_a_known_type():
    for model in RECORD_TYPES.values():
        assert len(features_for(model)) == len(model.model_fields)
    assert {t.record for t in config_table().tables.values()} == set(RECORD_TYPES)


def test_row_round_trip_uses_zero_based_class_indices():
    rec = _req(principle=Principle(9), source=Source.LLAMA2)
    row = to_row(rec)
    assert row["principle"] == 8 and row["source"] == 1 and row["split"] == 1
    assert from_row(MedicalRequest, row) == rec


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", "a\x00b", "line\rbreak"])
def test_text_must_be_non_empty_without_control_characters(bad):
    with pytest.raises(ValidationError):
        _req(request=bad)


def test_out_of_range_labels_are_rejected():
    with pytest.raises(ValueError, match=r"class index 9 outside 0\.\.8"):
        from_row(MedicalRequest, {**to_row(_req()), "principle": 9})
    with pytest.raises(ValidationError):
        _req(principle=10)


def test_records_are_strict():
    with pytest.raises(ValidationError):
        _req(extra_field=1)
    with pytest.raises(ValidationError):
        _req(id="Has Spaces")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize("make", [json_schema, row_json_schema])
def test_json_schemas_are_valid_2020_12_and_every_ref_resolves(make):
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    doc = make()
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema" and doc["type"] == "object"
    resolver = Registry().with_resource("urn:msb", DRAFT202012.create_resource(doc)).resolver("urn:msb")
    refs = list(_refs(doc))
    assert len(refs) > len(RECORD_TYPES)
    for ref in refs:
        assert ref.startswith("#/$defs/"), ref
        resolver.lookup(ref)  # raises when the pointer leads nowhere
    suffix = "" if make is json_schema else "Row"
    assert doc["oneOf"] == [{"$ref": f"#/$defs/{name}{suffix}"} for name in RECORD_TYPES]  # one per record type


def test_record_schema_has_principle_1_to_9_and_row_schema_0_to_8():
    records, rows = json_schema(), row_json_schema()
    assert records["$defs"]["MedicalRequest"]["required"] == list(MedicalRequest.model_fields)
    assert records["$defs"]["Principle"]["enum"] == list(range(1, 10))
    assert rows["$defs"]["PrincipleIndex"] | {"description": ""} == {
        "type": "integer",
        "minimum": 0,
        "maximum": 8,
        "description": "",
    }
    assert "0 = p1_competent_care" in rows["$defs"]["PrincipleIndex"]["description"]
    assert "the AMA principle number 1-9" in records["description"]
    assert "`principle` 0-8 is AMA principle 1-9" in rows["description"]


def test_a_record_and_its_row_validate_and_mixups_do_not():
    from jsonschema import Draft202012Validator

    records, rows = Draft202012Validator(json_schema()), Draft202012Validator(row_json_schema())
    rec = _req(principle=Principle(9))
    as_json, row = rec.model_dump(mode="json"), to_row(rec)
    assert records.is_valid(as_json) and rows.is_valid(row)
    assert as_json["principle"] == 9 and row["principle"] == 8
    assert not rows.is_valid(as_json)  # principle 9 and string enums are not a stored row
    assert not records.is_valid({**as_json, "principle": 0})
    assert not records.is_valid({**as_json, "extra": 1})
    assert not records.is_valid("a string")  # the root is typed


def test_config_table_unknown_config_is_a_clear_error():
    from medsafetybench.core.errors import MedSafetyError

    with pytest.raises(MedSafetyError, match="unknown config 'nope'; known: medical, medical_train"):
        config_table().config("nope")

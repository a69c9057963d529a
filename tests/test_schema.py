from __future__ import annotations

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


def test_json_schema_lists_every_record_type():
    schema = json_schema()
    assert set(schema["$defs"]) == set(RECORD_TYPES)
    assert schema["$defs"]["MedicalRequest"]["required"] == list(MedicalRequest.model_fields)


def test_config_table_unknown_config_is_a_clear_error():
    from medsafetybench.core.errors import MedSafetyError

    with pytest.raises(MedSafetyError, match="unknown config 'nope'; known: medical, medical_train"):
        config_table().config("nope")

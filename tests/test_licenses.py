"""Licenses per config: the config table, the card's YAML and text, and the non-commercial warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml
from huggingface_hub import DatasetCard
from pydantic import ValidationError

from medsafetybench import records
from medsafetybench.dataset import finetune_subsets
from medsafetybench.dataset.card import REPO_PLACEHOLDER, with_repo_id
from medsafetybench.dataset.configtable import ConfigTable, config_table
from medsafetybench.dataset.finetune_subsets import NonCommercialDataWarning, finetune_subset, non_commercial_notice

NON_COMMERCIAL = {"general_train", "finetune_demonstrations", "finetune_mix_orders"}


def test_every_config_declares_a_license_and_general_data_is_non_commercial():
    table = config_table()
    assert table.config_licenses == {name: "cc-by-nc-4.0" if name in NON_COMMERCIAL else "mit" for name in table.names}
    assert table.hub_licenses == ["mit", "cc-by-nc-4.0"]
    assert table.license_of("general_train").non_commercial
    assert "Bianchi et al. (2023)" in table.license_of("finetune_mix_orders").holder
    assert "AI4LIFE-GROUP" in table.license_of("medical_test").holder


def test_a_config_with_an_unknown_license_is_rejected():
    raw = config_table().model_dump()
    raw["configs"][0]["license"] = "gpl-forever"
    with pytest.raises(ValidationError, match="config 'medical': unknown license 'gpl-forever'"):
        ConfigTable.model_validate(raw)


def test_card_yaml_lists_both_licenses_and_ties_each_config_to_one(fixture_build: Path):
    card = DatasetCard.load(fixture_build / "README.md")  # huggingface_hub's own parser
    assert card.data.license == ["mit", "cc-by-nc-4.0"]
    assert card.data.config_licenses == config_table().config_licenses
    front = yaml.safe_load((fixture_build / "README.md").read_text().split("---\n")[1])
    assert {c: front["config_licenses"][c] for c in NON_COMMERCIAL} == dict.fromkeys(NON_COMMERCIAL, "cc-by-nc-4.0")


def test_card_text_gives_licenses_links_and_both_citations(fixture_build: Path):
    text = (fixture_build / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `general_train`"))
    assert "`finetune_demonstrations`" in row and "`finetune_mix_orders`" in row and "cc-by-nc-4.0" in row
    for needle in (
        "https://arxiv.org/abs/2403.03744",
        "https://github.com/AI4LIFE-GROUP/med-safety-bench",
        "@inproceedings{han2024medsafetybench",
        "@article{bianchi2023safetytuned",
        "arXiv:2309.07875",
        "https://creativecommons.org/licenses/by-nc/4.0/",
    ):
        assert needle in text, needle
    assert f'load_dataset("{REPO_PLACEHOLDER}"' in text
    pushed = with_repo_id(text, "someorg/medsafetybench")
    assert REPO_PLACEHOLDER not in pushed and 'load_dataset("someorg/medsafetybench", "medical_test"' in pushed


def test_non_commercial_notice_names_the_general_rows(fixture_build: Path):
    demos = list(records("finetune_demonstrations", repo_id=fixture_build))
    medical = [d for d in demos if d.origin.value == "medical"]
    assert non_commercial_notice(medical) is None
    assert non_commercial_notice(demos) == (
        "4 of 8 demonstrations are general safety demonstrations from Bianchi et al. (2023), Safety-Tuned LLaMAs "
        "(the general safety demonstrations), licensed Creative Commons Attribution-NonCommercial 4.0 International "
        "(cc-by-nc-4.0): non-commercial use only"
    )


def test_finetune_subset_warns_only_when_general_data_is_returned(fixture_build: Path, monkeypatch):
    monkeypatch.setattr(finetune_subsets, "_check", lambda *_a, **_k: None)  # fixture sizes are not upstream's
    with pytest.warns(NonCommercialDataWarning, match="^2 of 2 demonstrations are general"):
        finetune_subset("general", 2, repo_id=fixture_build)
    with pytest.warns(NonCommercialDataWarning, match="^2 of 4 demonstrations are general"):
        finetune_subset("both", 4, repo_id=fixture_build)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(finetune_subset("medical", 2, repo_id=fixture_build)) == 2

"""The declarative config table in ``loading_script/configs.yaml`` as typed objects."""

from __future__ import annotations

import functools

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..core.errors import MedSafetyError
from ..core.resources import resource_text
from .records import RECORD_TYPES, Record

__all__ = ["ConfigSpec", "ConfigTable", "LicenseSpec", "TableSpec", "config_table"]


class LicenseSpec(BaseModel):
    """A license a config can declare: its Hub id, full name, holder and where the terms are."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(description="Hub license identifier, e.g. mit or cc-by-nc-4.0.")
    name: str
    holder: str
    url: str
    non_commercial: bool = False

    def line(self) -> str:
        """One human-readable line, e.g. ``MIT License (Copyright (c) 2024 AI4LIFE-GROUP ...)``."""
        return f"{self.name} ({self.holder})"


class TableSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    record: str
    path: str

    @property
    def record_type(self) -> type[Record]:
        return RECORD_TYPES[self.record]


class ConfigSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    license: str = Field(description="Key of the table's `licenses`.")
    description: str
    default: bool = False
    splits: dict[str, list[str]] = Field(min_length=1)

    def record_type(self, table: ConfigTable) -> type[Record]:
        return table.tables[next(iter(self.splits.values()))[0]].record_type


class ConfigTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    licenses: dict[str, LicenseSpec]
    tables: dict[str, TableSpec]
    configs: list[ConfigSpec]

    @model_validator(mode="after")
    def _consistent(self) -> ConfigTable:
        for t in self.tables.values():
            if t.record not in RECORD_TYPES:
                raise ValueError(f"unknown record type {t.record!r}")
        if sum(c.default for c in self.configs) != 1:
            raise ValueError("exactly one config must be the default")
        for c in self.configs:
            if c.license not in self.licenses:
                raise ValueError(f"config {c.name!r}: unknown license {c.license!r}; known: {sorted(self.licenses)}")
            kinds = {self.tables[name].record for files in c.splits.values() for name in files}
            if len(kinds) != 1:
                raise ValueError(f"config {c.name!r} mixes record types {sorted(kinds)}")
        return self

    def config(self, name: str) -> ConfigSpec:
        for c in self.configs:
            if c.name == name:
                return c
        raise MedSafetyError(f"unknown config {name!r}; known: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.configs]

    def license_of(self, config: str) -> LicenseSpec:
        """The license a config declares."""
        return self.licenses[self.config(config).license]

    @property
    def hub_licenses(self) -> list[str]:
        """Hub license ids of all configs, in config order without repeats (the card's YAML ``license``)."""
        return list(dict.fromkeys(self.licenses[c.license].id for c in self.configs))

    @property
    def config_licenses(self) -> dict[str, str]:
        """Config name -> Hub license id (the card's YAML ``config_licenses``)."""
        return {c.name: self.licenses[c.license].id for c in self.configs}


@functools.cache
def config_table() -> ConfigTable:
    """The packaged config table (``loading_script/configs.yaml``)."""
    text = resource_text("_loading_script", "configs.yaml")
    return ConfigTable.model_validate(yaml.safe_load(text))

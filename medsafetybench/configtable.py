"""The declarative config table in ``loading_script/configs.yaml`` as typed objects."""

from __future__ import annotations

import functools

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import MedSafetyError
from .resources import resource_text
from .schema import RECORD_TYPES, Record

__all__ = ["ConfigSpec", "ConfigTable", "TableSpec", "config_table"]


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
    description: str
    default: bool = False
    splits: dict[str, list[str]] = Field(min_length=1)

    def record_type(self, table: ConfigTable) -> type[Record]:
        return table.tables[next(iter(self.splits.values()))[0]].record_type


class ConfigTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
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


@functools.cache
def config_table() -> ConfigTable:
    """The packaged config table (``loading_script/configs.yaml``)."""
    text = resource_text("_loading_script", "configs.yaml")
    return ConfigTable.model_validate(yaml.safe_load(text))

"""What the data dictionary and `lake.ops.lineage` are made of: every job declares the lake tables
it writes (each documented: description in Chinese and English, grain, keys, columns) and the
edges they are made from (`table <- source`, with the kind of dependency).

A source is a lake table (`layer.table`) or something outside the lake, named `<what>:<name>`:
`delivery:psb.household_registration` (a department's delivery packages), `conf:divisions.yml`
(a configuration file), `job:base` (a job's own declarations), `package:corrections/psb` (what a
job sends out of the lake).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pyspark.sql import types as T

from citylake.catalog import Element

# Dependency kinds: what a table takes from its source (中文, English).
KINDS: dict[str, tuple[str, str]] = {
    "delivery": ("部门交付", "rows as the department delivered them"),
    "ledger": ("台账", "one row per package or batch of the source, with its outcome"),
    "quarantine": ("隔离", "the source's rows set aside with the rule they broke"),
    "control": ("调度", "says which of the source's batches to take"),
    "standardize": ("标准化", "typed, standardized and checked, changes applied per key"),
    "history": ("历史", "every version of the source's rows in business time"),
    "reference": ("参照校验", "keys a referential quality rule looks up"),
    "measure": ("质量度量", "quality measured per batch and rule"),
    "aggregate": ("汇总", "aggregated from the source"),
    "correction": ("纠错", "corrections opened and closed from the source's rows"),
    "fuse": ("融合", "attributes taken from the source (一数一源)"),
    "link": ("关联", "linked with another library"),
    "cross-check": ("关联比对", "records compared with the library's values"),
    "configuration": ("配置", "declared in configuration"),
    "declaration": ("声明", "the tables and lineage a job declares"),
    "export": ("下发", "sent out of the lake to a department"),
    "as-of": ("截至时间", "the lake's as-of time (the latest delivery landed) the figures are counted to"),
    "evaluate": ("预警评估", "a warning rule's query evaluated over the source"),
}


@dataclass(frozen=True)
class ColumnDoc:
    """One column of a lake table: its type as declared ('' while unknown before the table is
    built), descriptions, and where its values come from."""

    name: str
    type: str = ""
    description_zh: str = ""
    description_en: str = ""
    origin: str = ""


@dataclass(frozen=True)
class TableDoc:
    """One lake table as the dictionary documents it."""

    name: str
    description_zh: str
    description_en: str
    grain: str
    keys: tuple[str, ...]
    columns: tuple[ColumnDoc, ...]

    @property
    def layer(self) -> str:
        return layer_of(self.name)


@dataclass(frozen=True)
class Edge:
    """`table` is made from `source`; `detail` says what it takes (attributes, a rule, ...)."""

    table: str
    source: str
    kind: str
    detail: str = ""


@dataclass(frozen=True)
class Declared:
    """What one job declares: the lake tables it documents and the edges into what it writes."""

    tables: tuple[TableDoc, ...] = ()
    edges: tuple[Edge, ...] = ()


def in_lake(name: str) -> bool:
    """A lake table (`layer.table`), not something outside the lake (`delivery:...`)."""
    return ":" not in name


def layer_of(name: str) -> str | None:
    """The layer of a lake table; None for a source outside the lake."""
    return name.partition(".")[0] if in_lake(name) else None


def delivery(qualified_code: str) -> str:
    """The outside source of a resource's delivery packages."""
    return f"delivery:{qualified_code}"


def configuration(path: str) -> str:
    """The outside source of a configuration file or folder under `conf/`."""
    return f"conf:{path}"


_SPARK_TYPE_NAMES = {"long": "bigint", "integer": "int", "short": "smallint", "byte": "tinyint"}


def spark_type(kind: str) -> str:
    """A declared type (catalog or Delta spelling) as Spark SQL prints it (`long` -> `bigint`)."""
    return _SPARK_TYPE_NAMES.get(kind, kind)


def element_column(name: str, type_: str, element: Element, description_zh: str | None, origin: str) -> ColumnDoc:
    """A column that holds a data element's values: its own Chinese description, else the
    element's label; the element's description's first sentence in English."""
    return ColumnDoc(name, spark_type(type_), description_zh or element.label, first_sentence(element.description),
                     origin)


def schema_columns(schema: T.StructType, described: Mapping[str, tuple[str, str]]) -> tuple[ColumnDoc, ...]:
    """The columns of a table whose schema the job declares, each with its (中文, English)
    description; every column described, and nothing else (a schema change must update both)."""
    names = [field.name for field in schema.fields]
    missing, unknown = [n for n in names if n not in described], [n for n in described if n not in names]
    if missing or unknown:
        raise ValueError(f"column descriptions do not match the schema: undescribed {missing}, unknown {unknown}")
    return tuple(ColumnDoc(field.name, field.dataType.simpleString(), *described[field.name])
                 for field in schema.fields)


def described_columns(columns: Iterable[tuple[str, str, str, str]]) -> tuple[ColumnDoc, ...]:
    """Columns given as (name, type, 中文, English)."""
    return tuple(ColumnDoc(name, spark_type(type_), zh, en) for name, type_, zh, en in columns)


# A sentence ends at a full stop before a capital, not at "e.g." or "i.e.".
_SENTENCE_END = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<=\.)\s+(?=[A-Z])")


def first_sentence(text: str) -> str:
    """The first sentence of an English description."""
    return _SENTENCE_END.split(" ".join(text.split()), maxsplit=1)[0]

"""The resource catalog (数据资源目录): what every department delivers, read from `conf/`.

`conf/catalog/<department>.yml` declares a department's resources (format, modes and cycles, key,
operation and change-time columns, sharing class, quality limits, columns with their data
elements); `conf/elements.yml` the data elements and their standards; `conf/divisions.yml` the
city's districts and streets. Everything is validated on load: a typo fails with the YAML file
and the path of the offending field, never later inside a job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from citylake.settings import ConfigError, conf_dir as active_conf_dir, read_yaml


Format = Literal["csv", "jsonl", "xlsx"]
Encoding = Literal["utf-8", "utf-8-sig", "gbk", "gb18030"]
Mode = Literal["full", "incremental"]
Cycle = Literal["daily", "weekly", "monthly", "yearly"]
Sharing = Literal["unconditional", "conditional", "not_shared"]

_COLUMN_TYPE = re.compile(r"^(string|date|timestamp|integer|bigint|double|boolean|decimal\(\d{1,2},\d{1,2}\))$")
_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")


class CatalogError(ConfigError):
    """A configuration file in `conf/` is missing, unreadable or invalid."""


class _Strict(BaseModel):
    # extra="forbid" turns a misspelt key into an error instead of a silently ignored setting
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- data elements


class CodeValue(_Strict):
    """One code of a code list, with the variants departments deliver for it."""

    label: str
    aliases: list[str] = Field(default_factory=list)


class Element(_Strict):
    """A data element (数据元): the meaning and standard form of a column's values."""

    name: str
    label: str
    description: str
    standard: str | None = None
    type: Literal["string", "date", "timestamp", "integer", "decimal", "double"]
    pattern: str | None = None
    values: dict[str, CodeValue] | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"not a regular expression: {error}") from error
        return pattern

    @property
    def is_code_list(self) -> bool:
        return self.values is not None


# --------------------------------------------------------------------------- resources


class Department(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    name_en: str


class Column(_Strict):
    """One data item of a resource: the delivered column and where it goes."""

    source: str = Field(min_length=1)
    target: str
    type: str
    element: str
    # required: the column must be in every file and its value must not be empty;
    # not required: the column may be missing from a file (optional) and its value may be empty
    required: bool = True
    description: str | None = None

    @field_validator("target")
    @classmethod
    def _target_is_snake_case(cls, target: str) -> str:
        if not _SNAKE_CASE.match(target):
            raise ValueError(f"target must be an English snake_case name, got {target!r}")
        return target

    @field_validator("type")
    @classmethod
    def _type_is_known(cls, type_: str) -> str:
        if not _COLUMN_TYPE.match(type_):
            raise ValueError(
                "type must be one of string, date, timestamp, integer, bigint, double, boolean, "
                f"decimal(p,s); got {type_!r}"
            )
        return type_


class Resource(_Strict):
    """A data resource one department delivers, e.g. psb.household_registration.

    `modes` are the extract modes the lake accepts for the resource; `cycle` says how often each
    is delivered. A mode without a cycle is delivered on demand only: every resource starts with a
    full extract (the initial load, 初始全量) even when its routine deliveries are incremental.
    """

    department: str
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    name_en: str | None = None
    description: str | None = None
    format: Format
    encoding: Encoding | None = None
    delimiter: str | None = None
    sheet: str | None = None
    modes: list[Mode] = Field(min_length=1)
    cycle: dict[Mode, Cycle] = Field(min_length=1)
    key: list[str] = Field(min_length=1)
    operation_column: str | None = None
    change_time_column: str | None = None
    sharing: Sharing
    quarantine_limit: float = Field(default=0.05, ge=0, le=1)
    delete_guard: float = Field(default=0.20, ge=0, le=1)
    division_column: str | None = None
    street_column: str | None = None
    columns: list[Column] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Resource:
        self._check_format_options()
        self._check_modes()
        self._check_column_references()
        self._check_unique_columns()
        return self

    def _check_format_options(self) -> None:
        if self.format == "xlsx":
            if self.encoding is not None or self.delimiter is not None:
                raise ValueError("encoding and delimiter apply to csv and jsonl only, not xlsx")
        else:
            if self.encoding is None:
                raise ValueError(f"encoding is required for {self.format}")
            if self.sheet is not None:
                raise ValueError("sheet applies to xlsx only")
        if self.format != "csv" and self.delimiter is not None:
            raise ValueError("delimiter applies to csv only")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"delimiter must be one character, got {self.delimiter!r}")

    def _check_modes(self) -> None:
        for mode in self.cycle:
            if mode not in self.modes:
                raise ValueError(f"cycle names mode {mode!r}, which is not in modes {self.modes}")
        if "incremental" in self.modes and (self.operation_column is None or self.change_time_column is None):
            raise ValueError("incremental mode needs operation_column and change_time_column")

    def _check_column_references(self) -> None:
        sources = set(self.source_columns)
        references = [("key", name) for name in self.key] + [
            (field, getattr(self, field))
            for field in ("operation_column", "change_time_column", "division_column", "street_column")
            if getattr(self, field) is not None
        ]
        for field, name in references:
            if name not in sources:
                raise ValueError(f"{field} {name!r} is not among the columns' sources")
        for name in self.key:
            if not self.column(name).required:
                raise ValueError(f"key column {name!r} must be required")

    def _check_unique_columns(self) -> None:
        for attribute in ("source", "target"):
            seen: set[str] = set()
            for column in self.columns:
                value = getattr(column, attribute)
                if value in seen:
                    raise ValueError(f"column {attribute} {value!r} is declared twice")
                seen.add(value)

    @property
    def table_name(self) -> str:
        """Name of the resource's tables in every layer, e.g. psb_household_registration."""
        return f"{self.department}_{self.code}"

    @property
    def raw_table(self) -> str:
        """The lake table landing writes the resource's deliveries to, e.g. raw.psb_household_registration."""
        return f"raw.{self.table_name}"

    @property
    def qualified_code(self) -> str:
        return f"{self.department}.{self.code}"

    @property
    def source_columns(self) -> list[str]:
        return [column.source for column in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [column.source for column in self.columns if column.required]

    def column(self, source: str) -> Column:
        for column in self.columns:
            if column.source == source:
                return column
        raise KeyError(f"{self.qualified_code} has no column {source!r}")

    def accepts(self, mode: str) -> bool:
        return mode in self.modes


class DepartmentCatalog(_Strict):
    """The content of one `conf/catalog/<department>.yml`."""

    department: Department
    resources: list[Resource] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _resources_know_their_department(cls, data: Any) -> Any:
        # the department is written once at the top of the file; each resource carries it
        if not isinstance(data, dict) or not isinstance(data.get("department"), dict):
            return data
        code = data["department"].get("code")
        resources = data.get("resources")
        if isinstance(resources, list):
            data = {**data, "resources": [_with_department(item, code) for item in resources]}
        return data

    @model_validator(mode="after")
    def _unique_resources(self) -> DepartmentCatalog:
        for resource in self.resources:
            if resource.department != self.department.code:
                raise ValueError(
                    f"resource {resource.code!r} names department {resource.department!r}, "
                    f"but the file is {self.department.code!r}'s"
                )
        codes = [resource.code for resource in self.resources]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"resource codes declared twice: {duplicates}")
        return self


def _with_department(item: Any, code: Any) -> Any:
    if not isinstance(item, dict):
        return item
    # a department given in the resource itself is kept, so that a mismatch is reported
    return {"department": code, **item}


class Catalog(BaseModel):
    """All departments' resources and the data elements their columns map to."""

    model_config = ConfigDict(frozen=True)

    departments: dict[str, DepartmentCatalog]
    elements: dict[str, Element]
    conf_dir: Path

    def __iter__(self) -> Iterator[Resource]:  # type: ignore[override]
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    @cached_property
    def resources(self) -> list[Resource]:
        return [resource for entry in self.departments.values() for resource in entry.resources]

    def department(self, code: str) -> Department:
        try:
            return self.departments[code].department
        except KeyError:
            raise KeyError(f"unknown department {code!r}; known: {sorted(self.departments)}") from None

    def resource(self, department: str, resource: str) -> Resource:
        """The resource `department.resource`, e.g. resource("psb", "household_registration")."""
        self.department(department)
        for candidate in self.departments[department].resources:
            if candidate.code == resource:
                return candidate
        known = [candidate.code for candidate in self.departments[department].resources]
        raise KeyError(f"department {department!r} has no resource {resource!r}; known: {known}")

    def element(self, name: str) -> Element:
        try:
            return self.elements[name]
        except KeyError:
            raise KeyError(f"unknown data element {name!r}") from None

    def element_of(self, resource: Resource, source: str) -> Element:
        return self.elements[resource.column(source).element]


# --------------------------------------------------------------------------- divisions


class IdCode(_Strict):
    """A division code found at the start of ID numbers of residents born in a range of years."""

    code: str = Field(pattern=r"^\d{6}$")
    from_year: int | None = None
    to_year: int | None = None

    def covers(self, year: int) -> bool:
        return (self.from_year is None or year >= self.from_year) and (self.to_year is None or year <= self.to_year)


class Street(_Strict):
    code: str = Field(pattern=r"^\d{9}$")
    name: str
    area_km2: float = Field(gt=0)
    lng: float = Field(ge=73, le=136)
    lat: float = Field(ge=3, le=54)


class District(_Strict):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    name_en: str
    area_km2: float = Field(gt=0)
    lng: float = Field(ge=73, le=136)
    lat: float = Field(ge=3, le=54)
    population: int = Field(gt=0)
    migrant_share: float = Field(ge=0, le=1)
    id_codes: list[IdCode] = Field(min_length=1)
    streets: list[Street] = Field(min_length=1)

    @model_validator(mode="after")
    def _streets_belong_to_district(self) -> District:
        for street in self.streets:
            if not street.code.startswith(self.code):
                raise ValueError(f"street {street.code} {street.name} does not start with the district code {self.code}")
        return self

    @model_validator(mode="after")
    def _id_codes_cover_every_year(self) -> District:
        ordered = self.id_codes
        if ordered[0].from_year is not None or ordered[-1].to_year is not None:
            raise ValueError("id_codes must start open (no from_year) and end open (no to_year)")
        for before, after in zip(ordered, ordered[1:]):
            if before.to_year is None or after.from_year != before.to_year + 1:
                raise ValueError(f"id_codes leave a gap or overlap between {before.code} and {after.code}")
        return self

    def id_code_for_year(self, year: int) -> str:
        """Division code of ID numbers issued to residents of this district born in `year`."""
        return next(entry.code for entry in self.id_codes if entry.covers(year))


class City(_Strict):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    name_en: str
    province_code: str = Field(pattern=r"^\d{6}$")
    province_name: str
    area_km2: float = Field(gt=0)
    lng: float
    lat: float


class Divisions(_Strict):
    """The city, its districts and their streets (GB/T 2260, GB/T 10114)."""

    city: City
    districts: list[District] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes_unique_and_in_city(self) -> Divisions:
        seen: set[str] = set()
        for district in self.districts:
            if district.code[:4] != self.city.code[:4]:
                raise ValueError(f"district {district.code} is not in city {self.city.code}")
            for code in [district.code] + [street.code for street in district.streets]:
                if code in seen:
                    raise ValueError(f"division code {code} declared twice")
                seen.add(code)
        return self

    @property
    def streets(self) -> list[Street]:
        return [street for district in self.districts for street in district.streets]

    def district(self, code: str) -> District:
        for district in self.districts:
            if district.code == code:
                return district
        raise KeyError(f"unknown district {code!r}")

    def district_of_street(self, street_code: str) -> District:
        return self.district(street_code[:6])

    @property
    def division_codes(self) -> set[str]:
        """Every valid division code of the city: the city itself and its districts."""
        return {self.city.code} | {district.code for district in self.districts}

    @property
    def street_codes(self) -> set[str]:
        return {street.code for street in self.streets}


# --------------------------------------------------------------------------- loading


class Section(_Strict):
    name: str
    name_en: str


class Industries(_Strict):
    """The sections of GB/T 4754-2017 (国民经济行业分类), by letter."""

    sections: dict[str, Section] = Field(min_length=1)

    @model_validator(mode="after")
    def _letters(self) -> Industries:
        wrong = [letter for letter in self.sections if not re.fullmatch(r"[A-T]", letter)]
        if wrong:
            raise ValueError(f"section letters are A to T, not {', '.join(wrong)}")
        return self


def load_industries(conf_dir: Path | None = None) -> Industries:
    """Read and validate `conf/industries.yml`."""
    conf_dir = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    path = conf_dir / "industries.yml"
    return _parse(path, Industries, _read_yaml(path))


def load_catalog(conf_dir: Path | None = None) -> Catalog:
    """Read and validate `conf/catalog/*.yml` against `conf/elements.yml`."""
    conf_dir = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    elements = load_elements(conf_dir)
    catalog_dir = conf_dir / "catalog"
    files = sorted(catalog_dir.glob("*.yml"))
    if not files:
        raise CatalogError(f"{catalog_dir}: no department catalogs (*.yml) found")
    departments: dict[str, DepartmentCatalog] = {}
    for path in files:
        entry = _parse(path, DepartmentCatalog, _read_yaml(path))
        _check_file_named_after_department(path, entry)
        _check_elements_known(path, entry, elements)
        departments[entry.department.code] = entry
    return Catalog(departments=departments, elements=elements, conf_dir=conf_dir)


def load_elements(conf_dir: Path | None = None) -> dict[str, Element]:
    """Read and validate `conf/elements.yml`: element name -> Element."""
    conf_dir = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    path = conf_dir / "elements.yml"
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: expected a mapping of element name to definition")
    elements: dict[str, Element] = {}
    for name, definition in raw.items():
        if not isinstance(definition, dict):
            raise CatalogError(f"{path}: {name}: expected a mapping, got {type(definition).__name__}")
        elements[name] = _parse(path, Element, {"name": name, **definition}, prefix=str(name))
    return elements


def load_divisions(conf_dir: Path | None = None) -> Divisions:
    """Read and validate `conf/divisions.yml`."""
    conf_dir = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    path = conf_dir / "divisions.yml"
    return _parse(path, Divisions, _read_yaml(path))


def _read_yaml(path: Path) -> Any:
    try:
        return read_yaml(path)
    except ConfigError as error:
        raise CatalogError(str(error)) from None


def _parse(path: Path, model: type[_Strict], raw: Any, prefix: str = "") -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems = [_describe_error(raw, detail, prefix) for detail in error.errors()]
        raise CatalogError(f"{path}: invalid {model.__name__}:\n  " + "\n  ".join(problems)) from None


def _describe_error(raw: Any, detail: Any, prefix: str) -> str:
    location = _field_path(raw, detail["loc"], prefix)
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"] == "extra_forbidden":
        message = "unknown key (misspelt?)"
    return f"{location or '(top level)'}: {message}"


def _field_path(raw: Any, loc: tuple[Any, ...], prefix: str) -> str:
    """Render a pydantic location as resources[0](household_registration).columns[2](XB).type."""
    parts = [prefix] if prefix else []
    node = raw
    for step in loc:
        if isinstance(step, int):
            label = ""
            if isinstance(node, list) and step < len(node):
                node = node[step]
                name = node.get("code") or node.get("source") if isinstance(node, dict) else None
                label = f"({name})" if name else ""
            parts[-1] = f"{parts[-1]}[{step}]{label}" if parts else f"[{step}]{label}"
        else:
            # pydantic adds validator names such as "function-after[...]" to some locations
            if str(step).startswith(("function-", "literal[")):
                continue
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts)


def _check_file_named_after_department(path: Path, entry: DepartmentCatalog) -> None:
    if path.stem != entry.department.code:
        raise CatalogError(f"{path}: department.code is {entry.department.code!r} but the file must be named after it")


def _check_elements_known(path: Path, entry: DepartmentCatalog, elements: dict[str, Element]) -> None:
    problems = [
        f"resources[{r}]({resource.code}).columns[{c}]({column.source}).element: "
        f"unknown data element {column.element!r} (not in elements.yml)"
        for r, resource in enumerate(entry.resources)
        for c, column in enumerate(resource.columns)
        if column.element not in elements
    ]
    if problems:
        raise CatalogError(f"{path}: invalid DepartmentCatalog:\n  " + "\n  ".join(problems))

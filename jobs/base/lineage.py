"""What the base job (`citylake base`) writes, documented, and what from, as `conf/base.yml`
declares it: each library from the integrated histories its views read, linked to the other
libraries (`LINKS`, as `jobs.base.job.snapshot` links them), its history, its cross-checks, and
the districts. A base attribute is described by the data element of the column it is taken from."""

from __future__ import annotations

import re

from citylake.catalog import Catalog, Element
from citylake.catalog import Column as CatalogColumn
from citylake.libraries import Libraries, Library, View, load_libraries
from jobs.base.conflicts import CONFLICT_COLUMNS
from jobs.base.fusion import AS_OF, LINEAGE, VALID_FROM, VALID_TO
from jobs.base.inputs import integrated_table
from jobs.base.job import DISTRICT
from jobs.catalog.model import ColumnDoc, Declared, Edge, TableDoc, configuration, described_columns, element_column


def _linked(source: str, name: str, type_: str, zh: str, en: str) -> tuple[str, ColumnDoc]:
    return source, ColumnDoc(name, type_, zh, en, f"linked from {source}")


# library -> (the library a column is linked from, the column): what `snapshot` adds.
LINKS: dict[str, tuple[tuple[str, ColumnDoc], ...]] = {
    "housing_unit": (
        _linked("base.building", "address", "string", "房屋标准地址",
                "The unit's standard address: its building's address and room number."),
        _linked("base.building", "division_code", "string", "行政区划代码", "The building's district code."),
        _linked("base.building", "street_code", "string", "乡镇街道代码", "The building's street code."),
        _linked("base.population", "registered_residents", "bigint", "户籍登记人数",
                "Living registered residents whose domicile address is the unit's."),
        _linked("base.population", "actual_residents", "bigint", "实有居住人数",
                "Living persons the grid found in the unit.")),
    "building": (
        _linked("base.housing_unit", "unit_count", "bigint", "房屋套数", "Housing units in the building."),
        _linked("base.housing_unit", "registered_residents", "bigint", "户籍登记人数",
                "Registered residents of its units."),
        _linked("base.housing_unit", "actual_residents", "bigint", "实有居住人数", "Persons living in its units.")),
    "legal_entity": (
        _linked("base.population", "legal_rep_in_population", "boolean", "法定代表人在人口库",
                "The legal representative's ID number is a person of the population library."),
        _linked("base.building", "building_code", "string", "楼栋编码", "The building of the registered address."),
        _linked("base.building", "street_code", "string", "乡镇街道代码",
                "The street of the registered address's building.")),
    "street": (
        _linked("base.building", "buildings", "bigint", "楼栋数", "Buildings in the street."),
        _linked("base.population", "residents", "bigint", "实有居住人数",
                "Living persons whose residence is in the street.")),
}

SYSTEM = {
    LINEAGE: ("map<string,struct<source:string,at:timestamp>>", "数据来源",
              "Per attribute: the resource its value came from (or 'derived') and that record's business time."),
    AS_OF: ("timestamp", "数据时点", "The business time the row describes."),
    VALID_FROM: ("timestamp", "生效时间", "Business time this state begins."),
    VALID_TO: ("timestamp", "失效时间", "Business time this state ends; NULL while current."),
}

CONFLICT = {
    "kind": ("string", "冲突类型", "The check that found it: name_mismatch, insured_after_death, ..."),
    "attribute": ("string", "比对属性", "The library attribute compared."),
    "source_a": ("string", "来源A", "The resource the library's value came from."),
    "value_a": ("string", "值A", "The library's value."),
    "source_b": ("string", "来源B", "The department's resource that disagrees."),
    "value_b": ("string", "值B", "The department record's value."),
    "record": ("string", "记录标识", "Which record of source B."),
    "recorded_at": ("timestamp", "记录时间", "Business time of that record."),
}

DISTRICT_COLUMNS = (
    ("division_code", "string", "行政区划代码", "6-digit district code (GB/T 2260)."),
    ("district_name", "string", "区县名称", "The district's Chinese name."),
    ("district_name_en", "string", "区县英文名", "The district's English name."),
    ("area_km2", "double", "面积（平方公里）", "Land area in square kilometres."),
    ("lng", "double", "经度", "Centroid longitude (WGS 84)."),
    ("lat", "double", "纬度", "Centroid latitude (WGS 84)."),
    ("streets", "bigint", "街道数", "Streets of the district in the lake."),
    ("residents", "bigint", "实有居住人数", "Living residents of its streets."),
    ("active_enterprises", "bigint", "在营企业数", "Enterprises registered in it that are active."),
    (AS_OF, "timestamp", *SYSTEM[AS_OF][1:]),
)

# A value taken from one column: the column itself, or a function whose first argument it is
# (`coalesce(name, ...)`, `max_by(name, changed_at)`, `sum(tax_arrears)`).
_TAKEN_FROM = re.compile(
    r"^\s*(?:(?:coalesce|max_by|min_by|max|min|sum|first|last)\(\s*)?`?([A-Za-z_]\w*)`?\s*(?:[,)].*)?$",
    re.IGNORECASE | re.DOTALL)
# A derived column taken from other attributes: one of them, or the first of them with a value.
_DERIVED_FROM = re.compile(r"^\s*(?:coalesce\(([\w`\s,]+)\)|`?([A-Za-z_]\w*)`?)\s*$", re.IGNORECASE)
_USES_AS_OF = re.compile(rf"\b{AS_OF}\b")


def declared(catalog: Catalog, libraries: Libraries | None = None) -> Declared:
    """Every library of `conf/base.yml` (current, history, conflicts) and `base.district`."""
    libraries = libraries or load_libraries(catalog, catalog.conf_dir)
    tables, edges = [], []
    for library in libraries:
        tables += [library_doc(catalog, library), history_doc(catalog, library)]
        edges += fusion_edges(library, library.table) + fusion_edges(library, library.history_table)
        edges += link_edges(library)
        if library.checks:
            tables.append(conflict_doc(catalog, library))
            edges += conflict_edges(library)
    tables.append(TableDoc(DISTRICT, "区县：城市行政区划（GB/T 2260）及湖中各区的街道、实有人口和在营企业。",
                           "The city's districts (GB/T 2260) with their names, area and centroid, and the streets, "
                           "living residents and active enterprises the lake has in each.",
                           "one row per district", ("division_code",), described_columns(DISTRICT_COLUMNS)))
    edges += [Edge(DISTRICT, configuration("divisions.yml"), "configuration", "districts, names, areas, centroids"),
              Edge(DISTRICT, "base.street", "aggregate", "streets, residents"),
              Edge(DISTRICT, "base.legal_entity", "aggregate", "active_enterprises")]
    return Declared(tuple(tables), tuple(edges))


def fusion_edges(library: Library, table: str) -> list[Edge]:
    """`table` <- the integrated history of each resource the library's views read, with the
    attributes taken from it."""
    by_resource: dict[str, list[str]] = {}
    for view in library.views.values():
        by_resource.setdefault(view.resource, [])
    for attribute in library.attributes:
        for view, _ in library.candidates(attribute):
            taken = by_resource[library.views[view].resource]
            if attribute not in taken:
                taken.append(attribute)
    return [Edge(table, integrated_table(resource, history=True), "fuse", ", ".join(attributes) or "entities")
            for resource, attributes in by_resource.items()]


def conflict_edges(library: Library) -> list[Edge]:
    """The conflict table <- the library (its fused values), the other libraries its checks name,
    and the current records of each resource checked against it."""
    kinds: dict[str, list[str]] = {}
    for check in library.checks:
        records = integrated_table(check.against.resource, history=False)
        for source in (check.library and f"base.{check.library}", records):
            if source and check.kind not in kinds.setdefault(source, []):
                kinds[source].append(check.kind)
    own = [Edge(library.conflict_table, library.table, "cross-check", "the library's fused values")]
    return own + [Edge(library.conflict_table, source, "cross-check", ", ".join(found))
                  for source, found in kinds.items()]


def library_doc(catalog: Catalog, library: Library) -> TableDoc:
    """`base.<library>`: key, attributes, derived columns, linked columns, `_lineage`, `_as_of`."""
    columns = (*fused_columns(catalog, library, timeless=False), *link_columns(library),
               *system_columns(LINEAGE, AS_OF))
    return TableDoc(library.table, f"{library.label or library.name}：{library.description}",
                    f"{library.description} Each attribute from the first source that has it (one number, one "
                    f"source); _lineage names it.", f"one row per {library.key}", (library.key,), columns)


def history_doc(catalog: Catalog, library: Library) -> TableDoc:
    """`base.<library>_history`: the library's states over business time (no links, nothing that
    depends on the day asked about)."""
    columns = (*fused_columns(catalog, library, timeless=True), *system_columns(LINEAGE, VALID_FROM, VALID_TO))
    return TableDoc(library.history_table, f"{library.label or library.name}历史：每个实体在业务时间上的每个状态。",
                    f"Every state of {library.table}'s entities, one span of business time each "
                    f"(_valid_from to _valid_to, NULL while current).",
                    f"one row per {library.key} and span of business time", (library.key, VALID_FROM), columns)


def conflict_doc(catalog: Catalog, library: Library) -> TableDoc:
    """`base.<library>_conflict`: one row per disagreeing record."""
    known = {column.name: column for column in (*fused_columns(catalog, library, timeless=False),
                                                 *link_columns(library))}
    places = [ColumnDoc(name, known[name].type, known[name].description_zh, known[name].description_en,
                        f"{library.table}.{name}") for name in ("division_code", "street_code") if name in known]
    columns = (known[library.key], *[ColumnDoc(name, *CONFLICT[name], "cross-check") for name in CONFLICT_COLUMNS],
               *places)
    kinds = ", ".join(dict.fromkeys(check.kind for check in library.checks))
    return TableDoc(library.conflict_table, f"{library.label or library.name}关联比对：部门记录与库值不一致之处，每条不一致的记录一行。",
                    f"Cross-checks (关联比对) of {library.table}: one row per department record that disagrees with "
                    f"the library, both values and both sources. Checks: {kinds}.",
                    "one row per disagreeing record and check", (library.key, "kind", "source_b", "record"), columns)


def fused_columns(catalog: Catalog, library: Library, *, timeless: bool) -> tuple[ColumnDoc, ...]:
    """The key, then each attribute and derived column (`timeless`: without those counted to `_as_of`)."""
    members = [library.views[name] for name in library.members]
    found = _resource_column(catalog, members[0], members[0].key)
    key = (element_column(library.key, "", found[1], found[0].description, "") if found else ColumnDoc(library.key))
    columns = [ColumnDoc(key.name, "", key.description_zh, key.description_en,
                         "key of " + ", ".join(dict.fromkeys(view.resource for view in members)))]
    for name in library.columns:
        derived = library.derived.get(name)
        if timeless and derived and _USES_AS_OF.search(derived):
            continue
        columns.append(attribute_column(catalog, library, name))
    return tuple(columns)


def attribute_column(catalog: Catalog, library: Library, name: str) -> ColumnDoc:
    """An attribute described by the data element of the first source column it is taken from
    (the column's own description), or, derived from other attributes, by theirs (the element's
    label); its sources in priority order."""
    sources = library.candidates(name) if name in library.attributes else []
    origins = [_origin(library.views[view], library.views[view].expressions[column]) for view, column in sources]
    derived = library.derived.get(name)
    if derived:
        origins.append(f"derived: {derived}")
    origin = "; then ".join(dict.fromkeys(origins))
    for view, column in sources:
        found = _resource_column(catalog, library.views[view], library.views[view].expressions[column])
        if found:
            return element_column(name, "", found[1], found[0].description, origin)
    element = _derived_element(catalog, library, name)
    if element:
        return element_column(name, "", element, None, origin)
    return ColumnDoc(name, "", "", "", origin)


def _derived_element(catalog: Catalog, library: Library, name: str,
                     seen: frozenset[str] = frozenset()) -> Element | None:
    """The data element of a derived column taken from other attributes (`street_code:
    residence_street_code`, `coalesce(a, b)`): the first of them that has one."""
    derived = library.derived.get(name, "")
    match = _DERIVED_FROM.match(derived)
    if not match:
        return None
    for other in (part.strip().strip("`") for part in (match.group(1) or match.group(2)).split(",")):
        if other == name or other in seen or other not in library.attributes:
            continue
        for view, column in library.candidates(other):
            found = _resource_column(catalog, library.views[view], library.views[view].expressions[column])
            if found:
                return found[1]
        element = _derived_element(catalog, library, other, seen | {name})
        if element:
            return element
    return None


def _resource_column(catalog: Catalog, view: View, expression: str) -> tuple[CatalogColumn, Element] | None:
    """The resource column a view expression takes its value from, and its data element; None
    for a computed value."""
    match = _TAKEN_FROM.match(expression)
    if not match:
        return None
    resource = catalog.resource(*view.resource.split("."))
    column = next((c for c in resource.columns if c.target == match.group(1)), None)
    return (column, catalog.element(column.element)) if column else None


def link_columns(library: Library) -> tuple[ColumnDoc, ...]:
    return tuple(column for _, column in LINKS.get(library.name, ()))


def link_edges(library: Library) -> list[Edge]:
    """The library <- each library `snapshot` links it with, naming the columns it adds."""
    columns: dict[str, list[str]] = {}
    for source, column in LINKS.get(library.name, ()):
        columns.setdefault(source, []).append(column.name)
    return [Edge(library.table, source, "link", ", ".join(names)) for source, names in columns.items()]


def system_columns(*names: str) -> tuple[ColumnDoc, ...]:
    return tuple(ColumnDoc(name, SYSTEM[name][0], *SYSTEM[name][1:], "base build") for name in names)


def _origin(view: View, expression: str) -> str:
    """Where a view's column comes from: `resource.column` or `resource: expression`, and which rows."""
    plain = re.fullmatch(r"\s*`?([A-Za-z_]\w*)`?\s*", expression)
    taken = f"{view.resource}.{plain.group(1)}" if plain else f"{view.resource}: {expression.strip()}"
    return f"{taken} where {view.where}" if view.where else taken

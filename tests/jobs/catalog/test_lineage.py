"""Lineage from the jobs' own declarations: the edges of each layer, nothing read that no job
writes, every ops table the code names declared, and a new job plugging in with one function."""

from __future__ import annotations

import re

import pytest
from pyspark.sql import types as T

from citylake.settings import PROJECT_ROOT
from citylake.themes import load_themes
from jobs.catalog.model import ColumnDoc, Declared, Edge, TableDoc, first_sentence, in_lake, schema_columns
from jobs.catalog.registry import JOBS, DeclarationError, declarations, documented_tables, lineage_edges
from jobs.catalog.tables import LINEAGE_SCHEMA, lineage_rows


@pytest.fixture(scope="module")
def declared(catalog):
    return declarations(catalog)


@pytest.fixture(scope="module")
def edges(declared):
    return lineage_edges(declared)


def into(edges, table: str) -> dict[str, tuple[str, str, str]]:
    """source -> (job, kind, detail) of the edges into a table."""
    return {edge.source: (job, edge.kind, edge.detail) for job, edge in edges if edge.table == table}


def test_a_raw_table_is_made_from_its_departments_deliveries(edges):
    assert into(edges, "raw.psb_household_registration") == {
        "delivery:psb.household_registration": ("land", "delivery", "csv; full monthly, incremental daily")}
    assert into(edges, "ops.batch_ledger")["delivery:hrss.social_insurance"][:2] == ("land", "ledger")


def test_an_integrated_table_is_made_from_its_raw_table_and_the_resources_its_rules_reference(edges):
    assert {source: found[:2] for source, found in into(edges, "integrated.psb_household_registration").items()} == {
        "raw.psb_household_registration": ("integrate", "standardize"), "ops.batch_ledger": ("integrate", "control")}
    history = into(edges, "integrated.psb_household_registration_history")
    assert history["raw.psb_household_registration"][:2] == ("integrate", "history")
    insurance = into(edges, "integrated.hrss_social_insurance")
    # conf/rules.yml: the employer's USCC is looked up in enterprise registration
    assert insurance["integrated.amr_enterprise_registration"] == ("integrate", "reference",
                                                                   "employer_registered: 单位统一社会信用代码")
    assert insurance["integrated.amr_enterprise_registration_history"][1] == "reference"


def test_a_base_library_is_made_from_the_integrated_histories_its_views_read(edges):
    population = into(edges, "base.population")
    assert {source for source, (_, kind, _) in population.items() if kind == "fuse"} == {
        "integrated.psb_household_registration_history", "integrated.psb_residence_permit_history",
        "integrated.grid_actual_population_history", "integrated.health_vital_event_history",
        "integrated.hrss_social_insurance_history", "integrated.hcb_property_registration_history"}
    job, kind, attributes = population["integrated.hcb_property_registration_history"]
    assert (job, kind, attributes) == ("base", "fuse", "owned_unit_codes")
    assert "domicile_address" in population["integrated.psb_household_registration_history"][2].split(", ")
    assert set(into(edges, "base.population_history")) == {s for s, (_, k, _) in population.items() if k == "fuse"}
    units = into(edges, "base.housing_unit")
    assert units["base.building"] == ("base", "link", "address, division_code, street_code")
    assert units["base.population"] == ("base", "link", "registered_residents, actual_residents")


def test_a_conflict_table_is_made_from_its_library_and_the_records_checked_against_it(edges):
    conflicts = into(edges, "base.population_conflict")
    assert conflicts["base.population"][:2] == ("base", "cross-check")
    # current records, not histories: a check compares what departments say now
    assert conflicts["integrated.hrss_social_insurance"] == (
        "base", "cross-check", "name_mismatch, insured_after_death, employer_deregistered")
    assert conflicts["base.legal_entity"] == ("base", "cross-check", "employer_deregistered")
    assert "integrated.hrss_social_insurance_history" not in conflicts
    assert "base.building_conflict" not in {edge.table for _, edge in edges}  # buildings have no checks


def test_districts_ops_tables_and_the_lineage_itself(edges):
    assert set(into(edges, "base.district")) == {"conf:divisions.yml", "base.street", "base.legal_entity"}
    assert into(edges, "ops.quality_score") == {
        "ops.quality_metrics": ("integrate", "aggregate", "pass rates per resource and department by day")}
    assert into(edges, "ops.corrections")["ops.quarantine"][:2] == ("integrate", "correction")
    assert into(edges, "package:corrections/psb") == {"ops.corrections": (
        "corrections", "export", "open corrections in the department's own columns, format and encoding")}
    assert set(into(edges, "ops.lineage")) == {f"job:{job}" for job in JOBS}


def test_no_edge_reads_a_table_no_job_writes(edges):
    written = {edge.table for _, edge in edges}
    read = {edge.source for _, edge in edges if in_lake(edge.source)}
    assert read - written == set()
    assert all(edge.table != edge.source for _, edge in edges)


def test_every_documented_table_has_lineage_and_every_lake_table_written_is_documented(declared, edges):
    documented = documented_tables(declared)
    written = {edge.table for _, edge in edges if in_lake(edge.table)}
    assert set(documented) == written
    # raw, integrated and history; libraries; ...; the theme tables; the warnings; the query audit and usage; the run
    # ledger; the share requests and their history; the exchange sends and receipts; the sharing assessment
    assert len(documented) == 14 * 3 + 5 * 2 + 2 + 1 + 6 + 3 + len(load_themes().tables) + 2 + 2 + 1 + 2 + 2 + 1
    for doc in documented.values():
        assert doc.description_zh and doc.description_en and doc.grain and doc.keys
        assert set(doc.keys) <= {column.name for column in doc.columns}, doc.name


def test_every_ops_table_the_code_names_is_declared(declared):
    named = set()
    for folder in ("jobs", "citylake"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            named |= set(re.findall(r"\"(ops\.[a-z_]+)\"", path.read_text(encoding="utf-8")))
    assert {"ops.batch_ledger", "ops.quarantine", "ops.integration_ledger", "ops.quality_metrics",
            "ops.quality_score", "ops.corrections", "ops.catalog_resource", "ops.lineage"} <= named
    assert named - set(documented_tables(declared)) == set()


def test_lineage_rows_put_sources_outside_the_lake_in_no_layer(edges):
    rows = [dict(zip(LINEAGE_SCHEMA.names, row)) for row in lineage_rows(edges)]
    assert len(rows) == len(edges)
    delivery = next(row for row in rows if row["source"] == "delivery:psb.household_registration"
                    and row["table_name"] == "raw.psb_household_registration")
    assert (delivery["layer"], delivery["source_layer"], delivery["job"]) == ("raw", None, "land")
    package = next(row for row in rows if row["table_name"] == "package:corrections/psb")
    assert (package["layer"], package["source_layer"]) == (None, "ops")
    assert [row["layer"] for row in rows if row["layer"]][:1] == ["raw"]  # in the lake's layer order


def theme_job(catalog) -> Declared:
    """A job declared the way the theme and warning jobs plug in."""
    table = TableDoc("theme.credit", "信用主题库", "Credit", "one row per enterprise", ("uscc",),
                     (ColumnDoc("uscc", "string", "统一社会信用代码", "Credit code."),))
    return Declared((table,), (Edge("theme.credit", "base.legal_entity", "aggregate", "licences, penalties"),))


def test_a_new_job_plugs_in_with_one_function(catalog):
    declared = declarations(catalog, {**JOBS, "theme": theme_job})
    edge = Edge("theme.credit", "base.legal_entity", "aggregate", "licences, penalties")
    assert ("theme", edge) in lineage_edges(declared)
    assert documented_tables(declared)["theme.credit"].layer == "theme"


def test_contradicting_declarations_are_refused(catalog):
    def stray(catalog) -> Declared:
        return Declared(edges=(Edge("theme.undocumented", "base.population", "aggregate"),))

    with pytest.raises(DeclarationError, match="no job documents: theme.undocumented"):
        documented_tables(declarations(catalog, {**JOBS, "stray": stray}))

    def twice(catalog) -> Declared:
        doc = documented_tables(declarations(catalog))["ops.lineage"]
        return Declared((TableDoc(doc.name, "另一种说法", doc.description_en, doc.grain, doc.keys, doc.columns),))

    with pytest.raises(DeclarationError, match="ops.lineage is documented differently"):
        documented_tables(declarations(catalog, {**JOBS, "twice": twice}))


def test_ops_column_descriptions_must_match_the_schema():
    schema = T.StructType([*LINEAGE_SCHEMA.fields, T.StructField("rows", T.LongType())])
    described = {**{name: ("", "") for name in LINEAGE_SCHEMA.names}, "row": ("", "")}
    with pytest.raises(ValueError, match=r"undescribed \['rows'\], unknown \['row'\]"):
        schema_columns(schema, described)


def test_an_english_description_is_cut_at_its_first_sentence():
    assert first_sentence("Registration authority (a letter for some, e.g. N agriculture). Letters I and O are "
                          "never used.") == "Registration authority (a letter for some, e.g. N agriculture)."


def test_a_theme_table_is_made_from_its_sources_its_reference_data_and_the_as_of_time(edges):
    made_from = into(edges, "theme.population_street_month")
    assert set(made_from) == {"base.population_history", "base.housing_unit", "conf:divisions.yml", "ops.batch_ledger"}
    assert made_from["base.housing_unit"][:2] == ("theme", "aggregate")
    assert made_from["ops.batch_ledger"][:2] == ("theme", "as-of")
    assert into(edges, "theme.housing_street_month").keys() >= {"theme.housing_building_month"}


def test_the_warnings_are_made_from_what_their_rules_read(edges):
    made_from = into(edges, "app.warning")
    assert {"theme.enterprise_month", "theme.grid_event_day", "ops.quality_score", "base.population_conflict",
            "ops.batch_ledger"} <= set(made_from)
    assert made_from["theme.grid_event_day"][:2] == ("warn", "evaluate")
    assert set(into(edges, "app.warning_history")) == {"app.warning"}

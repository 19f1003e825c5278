"""The catalog tables' rows are `conf/catalog` exactly, read here from the YAML files themselves."""

from __future__ import annotations

from collections import Counter

import yaml

from citylake.settings import DEFAULT_CONF_DIR
from jobs.catalog.tables import ITEM_SCHEMA, RESOURCE_SCHEMA, item_rows, resource_rows


def conf_resources() -> dict[str, dict]:
    """`department.resource` -> its entry, from every `conf/catalog/*.yml` as written."""
    found = {}
    for path in sorted((DEFAULT_CONF_DIR / "catalog").glob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        for resource in content["resources"]:
            found[f"{content['department']['code']}.{resource['code']}"] = resource
    return found


def as_dicts(rows: list[tuple], schema) -> list[dict]:
    return [dict(zip(schema.names, row)) for row in rows]


def test_one_resource_row_per_catalog_resource(catalog):
    rows = as_dicts(resource_rows(catalog), RESOURCE_SCHEMA)
    expected = conf_resources()
    assert [f"{row['department']}.{row['resource']}" for row in rows] == list(expected)
    assert len(rows) == 14
    for row in rows:
        declared = expected[f"{row['department']}.{row['resource']}"]
        assert (row["resource_name"], row["format"], row["sharing"], row["key"], row["items"]) == (
            declared["name"], declared["format"], declared["sharing"], declared["key"], len(declared["columns"]))


def test_one_item_row_per_data_item_of_each_resource(catalog):
    rows = as_dicts(item_rows(catalog), ITEM_SCHEMA)
    counted = Counter(f"{row['department']}.{row['resource']}" for row in rows)
    assert counted == {code: len(resource["columns"]) for code, resource in conf_resources().items()}
    for code, resource in conf_resources().items():
        department, name = code.split(".")
        delivered = [row["source_column"] for row in rows if (row["department"], row["resource"]) == (department, name)]
        assert delivered == [column["source"] for column in resource["columns"]]


def test_the_household_register_as_the_catalog_declares_it(catalog):
    resource = next(row for row in as_dicts(resource_rows(catalog), RESOURCE_SCHEMA)
                    if (row["department"], row["resource"]) == ("psb", "household_registration"))
    assert resource == {
        "department": "psb", "department_name": "公安局", "department_name_en": "Public Security Bureau",
        "resource": "household_registration", "resource_name": "户籍人口", "resource_name_en": "Registered residents",
        "description": "One row per person in the city's household register, including deceased and moved-out "
                       "persons (by status).",
        "format": "csv", "encoding": "gbk", "modes": ["full", "incremental"], "full_cycle": "monthly",
        "incremental_cycle": "daily", "key": ["GMSFHM"], "key_columns": ["id_number"], "operation_column": "CZLX",
        "change_time_column": "BGSJ", "division_column": "HJDZ_XZQH", "street_column": None,
        "sharing": "conditional", "sharing_name": "有条件共享", "quarantine_limit": 0.05, "delete_guard": 0.20,
        "items": 12, "raw_table": "raw.psb_household_registration",
        "integrated_table": "integrated.psb_household_registration",
        "history_table": "integrated.psb_household_registration_history", "conf_file": "conf/catalog/psb.yml"}
    items = {row["source_column"]: row for row in as_dicts(item_rows(catalog), ITEM_SCHEMA)
             if (row["department"], row["resource"]) == ("psb", "household_registration")}
    assert items["GMSFHM"] == {
        "department": "psb", "resource": "household_registration", "position": 1, "source_column": "GMSFHM",
        "target_column": "id_number", "type": "string", "required": True, "in_key": True, "role": None,
        "element": "resident_id", "element_label": "公民身份号码", "element_standard": "GB 11643-1999",
        "description": "公民身份号码"}
    assert (items["CZLX"]["role"], items["CZLX"]["required"], items["CZLX"]["position"]) == ("operation", False, 12)
    assert (items["HJDZ_XZQH"]["role"], items["HJDZ_XZQH"]["element_standard"]) == ("division", "GB/T 2260-2007")
    assert items["BGSJ"]["role"] == "change_time"


def test_not_shared_and_unconditional_resources_say_so_in_chinese(catalog):
    sharing = {f"{row['department']}.{row['resource']}": (row["sharing"], row["sharing_name"])
               for row in as_dicts(resource_rows(catalog), RESOURCE_SCHEMA)}
    assert sharing["hcb.property_registration"] == ("not_shared", "不予共享")
    assert sharing["hcb.building"] == ("unconditional", "无条件共享")

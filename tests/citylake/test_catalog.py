"""The resource catalog, data elements and divisions load, validate, and say clearly what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from citylake.catalog import CatalogError, load_catalog, load_divisions, load_elements
from citylake.settings import DEFAULT_CONF_DIR

# The interface specifications of the demo city's departments (specs/resources.md): every
# resource with its format, encoding, modes, key, sharing class and exact source columns.
RESOURCES = {
    "psb.household_registration": ("csv", "gbk", {"incremental": "daily", "full": "monthly"}, ["GMSFHM"], "conditional",
                                   ["GMSFHM", "XM", "XB", "MZ", "CSRQ", "HJDZ_XZQH", "HJDZ", "HH", "YHZGX", "RYZT", "BGSJ", "CZLX"]),
    "psb.residence_permit": ("csv", "gbk", {"incremental": "daily"}, ["GMSFHM"], "conditional",
                             ["GMSFHM", "XM", "XB", "CSRQ", "JZDZ_XZQH", "JZDZ", "YXQZ", "BGSJ", "CZLX"]),
    "hrss.social_insurance": ("jsonl", "utf-8", {"incremental": "monthly"}, ["身份证号", "险种"], "conditional",
                              ["身份证号", "姓名", "单位统一社会信用代码", "单位名称", "险种", "参保状态", "缴费基数", "参保日期",
                               "更新时间", "操作类型"]),
    "amr.enterprise_registration": ("xlsx", None, {"full": "weekly"}, ["uscc"], "unconditional",
                                    ["uscc", "ent_name", "legal_rep_name", "legal_rep_id", "industry_code", "reg_capital",
                                     "est_date", "status", "reg_district", "address", "updated_at"]),
    "amr.administrative_license": ("csv", "utf-8-sig", {"incremental": "daily"}, ["case_no"], "unconditional",
                                   ["case_no", "uscc", "party_name", "license_name", "license_no", "decision_date",
                                    "valid_from", "valid_to", "authority", "op", "changed_at"]),
    "amr.administrative_penalty": ("csv", "utf-8-sig", {"incremental": "daily"}, ["case_no"], "unconditional",
                                   ["case_no", "uscc", "party_name", "violation", "penalty_type", "amount",
                                    "decision_date", "authority", "op", "changed_at"]),
    "tax.tax_payment": ("csv", "utf-8", {"incremental": "monthly"}, ["NSRSBH", "SSQ"], "conditional",
                        ["NSRSBH", "NSRMC", "SSQ", "YNSE", "YJSE", "QSE", "CZLX", "GXSJ"]),
    "hcb.building": ("csv", "gbk", {"full": "monthly"}, ["LDBM"], "unconditional",
                     ["LDBM", "LDMC", "XZQH", "JDBM", "DZ", "JZNF", "DSCS", "JZMJ", "LNG", "LAT"]),
    "hcb.housing_unit": ("csv", "gbk", {"full": "monthly"}, ["FWBM"], "unconditional",
                         ["FWBM", "LDBM", "SH", "JZMJ", "FWYT"]),
    "hcb.property_registration": ("csv", "gbk", {"incremental": "daily"}, ["BDCDYH"], "not_shared",
                                  ["BDCDYH", "FWBM", "QLR_ZJHM", "QLRMC", "DJRQ", "QLZT", "CZLX", "BGSJ"]),
    "health.vital_event": ("csv", "utf-8", {"incremental": "daily"}, ["ZMBH"], "conditional",
                           ["ZMBH", "ZJHM", "XM", "SJLX", "SJRQ", "JGMC", "CZLX", "BGSJ"]),
    "grid.actual_population": ("jsonl", "utf-8", {"incremental": "daily"}, ["id_no"], "conditional",
                               ["id_no", "name", "phone", "unit_code", "street_code", "grid_code", "residence_type",
                                "collected_at", "op"]),
    "grid.event": ("jsonl", "utf-8", {"incremental": "daily"}, ["event_id"], "unconditional",
                   ["event_id", "event_type", "street_code", "grid_code", "reported_at", "closed_at", "status", "lng",
                    "lat", "op", "changed_at"]),
    "nrp.street": ("csv", "utf-8", {"full": "yearly"}, ["street_code"], "unconditional",
                   ["street_code", "street_name", "district_code", "area_km2", "lng", "lat"]),
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_every_resource_of_the_interface_specs_is_declared(catalog):
    assert sorted(r.qualified_code for r in catalog) == sorted(RESOURCES)
    for code, (fmt, encoding, cycle, key, sharing, columns) in RESOURCES.items():
        resource = catalog.resource(*code.split("."))
        assert (resource.format, resource.encoding, resource.cycle, resource.key, resource.sharing) == (
            fmt, encoding, cycle, key, sharing), code
        assert resource.source_columns == columns, code


def test_resources_know_their_table_and_change_columns(catalog):
    psb = catalog.resource("psb", "household_registration")
    assert psb.table_name == "psb_household_registration"
    assert (psb.operation_column, psb.change_time_column) == ("CZLX", "BGSJ")
    assert psb.division_column == "HJDZ_XZQH"
    assert catalog.resource("amr", "enterprise_registration").sheet == "企业登记"
    # incremental resources start with a full extract; the operation column is absent from it
    for resource in catalog:
        assert resource.accepts("full")
        if resource.operation_column:
            assert not resource.column(resource.operation_column).required


def test_every_column_maps_to_a_known_element_and_a_snake_case_target(catalog):
    for resource in catalog:
        for column in resource.columns:
            assert column.element in catalog.elements
            assert column.target == column.target.lower()
    assert catalog.element("resident_id").standard == "GB 11643-1999"
    assert catalog.element("gender").values["1"].aliases == ["男", "M", "male"]


def test_unknown_lookups_say_what_exists(catalog):
    with pytest.raises(KeyError, match="known"):
        catalog.resource("psb", "no_such_resource")
    with pytest.raises(KeyError, match="unknown department"):
        catalog.resource("xyz", "anything")


def test_divisions_are_quanzhou_with_streets_and_id_code_history():
    divisions = load_divisions()
    assert divisions.city.code == "350500"
    codes = [d.code for d in divisions.districts]
    assert codes == ["350502", "350503", "350504", "350505", "350521", "350524", "350525", "350526", "350581",
                     "350582", "350583"]
    assert "350527" not in codes  # 金门县: no data
    for district in divisions.districts:
        assert len(district.streets) >= 3
        assert all(s.code.startswith(district.code) and len(s.code) == 9 for s in district.streets)
    jinjiang = divisions.district("350582")
    assert [jinjiang.id_code_for_year(y) for y in (1980, 1990, 2000)] == ["352422", "350522", "350582"]


def _broken_conf(tmp_path: Path, department: str, edit) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(DEFAULT_CONF_DIR, conf, ignore=shutil.ignore_patterns("secrets.yml", "profiles"))
    path = conf / "catalog" / f"{department}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return conf


@pytest.mark.parametrize(("department", "edit", "expected"), [
    ("psb", lambda d: d["resources"][0].update(change_time_colum="BGSJ"),
     r"psb\.yml.*resources\[0\]\(household_registration\)\.change_time_colum: unknown key"),
    ("psb", lambda d: d["resources"][0]["columns"][2].update(type="strng"),
     r"psb\.yml.*resources\[0\]\(household_registration\)\.columns\[2\]\(XB\)\.type: .*'strng'"),
    ("tax", lambda d: d["resources"][0]["columns"][1].update(element="orgname"),
     r"tax\.yml.*columns\[1\]\(NSRMC\)\.element: unknown data element 'orgname'"),
    ("hrss", lambda d: d["resources"][0].update(key=["身份证号", "险种类型"]),
     r"hrss\.yml.*resources\[0\]\(social_insurance\).*key '险种类型' is not among the columns"),
    ("grid", lambda d: d["resources"][1].update(sharing="public"),
     r"grid\.yml.*resources\[1\]\(event\)\.sharing: Input should be 'unconditional', 'conditional' or 'not_shared'"),
    ("amr", lambda d: d["resources"][1].update(operation_column="operation"),
     r"amr\.yml.*administrative_license.*operation_column 'operation' is not among the columns"),
    ("hcb", lambda d: d["resources"][0]["cycle"].update(full="hourly"),
     r"hcb\.yml.*resources\[0\]\(building\)\.cycle\.full: Input should be"),
])
def test_a_broken_catalog_names_the_file_and_the_field(tmp_path, department, edit, expected):
    conf = _broken_conf(tmp_path, department, edit)
    with pytest.raises(CatalogError, match="(?s)" + expected):
        load_catalog(conf)


def test_a_catalog_file_must_be_named_after_its_department(tmp_path):
    conf = _broken_conf(tmp_path, "nrp", lambda d: d["department"].update(code="planning"))
    with pytest.raises(CatalogError, match=r"nrp\.yml: department\.code is 'planning'"):
        load_catalog(conf)


def test_unreadable_yaml_and_missing_files_are_reported(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(DEFAULT_CONF_DIR, conf, ignore=shutil.ignore_patterns("secrets.yml", "profiles"))
    (conf / "catalog" / "psb.yml").write_text("department: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"psb\.yml: not valid YAML"):
        load_catalog(conf)
    (conf / "elements.yml").unlink()
    with pytest.raises(CatalogError, match=r"elements\.yml: file not found"):
        load_elements(conf)


def test_a_bad_element_pattern_is_reported(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(DEFAULT_CONF_DIR, conf, ignore=shutil.ignore_patterns("secrets.yml", "profiles"))
    elements = yaml.safe_load((conf / "elements.yml").read_text(encoding="utf-8"))
    elements["phone"]["pattern"] = "^1[3-9"
    (conf / "elements.yml").write_text(yaml.safe_dump(elements, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"(?s)elements\.yml.*phone\.pattern: .*not a regular expression"):
        load_elements(conf)

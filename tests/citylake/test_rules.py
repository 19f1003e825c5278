"""Quality rules in conf/rules.yml: loaded, merged with the defaults, and checked against the catalog."""

import pytest

from citylake.catalog import CatalogError, load_catalog
from citylake.rules import load_rules


def test_each_resource_gets_the_defaults_and_its_own_referential_rules(catalog):
    rules = load_rules(catalog)
    insurance = rules.rules_for(catalog.resource("hrss", "social_insurance"))
    assert insurance.validity.action_for("身份证号") == "quarantine"
    assert [(r.column, r.references, r.action) for r in insurance.referential] == [
        ("单位统一社会信用代码", "amr.enterprise_registration", "warn")]
    street = rules.rules_for(catalog.resource("nrp", "street"))
    assert street.referential == [] and street.timeliness.grace_days["yearly"] > 0


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r["defaults"]["validity"].update(action="drop"), "defaults.validity.action"),
    (lambda r: r["defaults"].update(completness={"action": "warn"}), "completness: unknown key"),
    (lambda r: r["resources"].update({"psb.nothing": {}}), "resources.psb.nothing: unknown resource"),
    (lambda r: r["resources"]["hrss.social_insurance"]["referential"][0].update(column="单位"),
     "referential(employer_registered).column: '单位' is not a column"),
    (lambda r: r["resources"]["hrss.social_insurance"]["referential"][0].update(references="tax.tax_payment"),
     "compound key"),
    (lambda r: r["resources"].update({"psb.household_registration": {"validity": {
        "action": "warn", "columns": {"GMSFHN": "reject"}}}}), "validity.columns.GMSFHN: not a column"),
])
def test_a_broken_rules_file_names_the_field(edited_conf, edit, expected):
    conf = edited_conf("rules.yml", edit)
    with pytest.raises(CatalogError, match="rules.yml") as error:
        load_rules(load_catalog(conf), conf)
    assert expected in str(error.value)

"""The thematic libraries' and warning rules' declarations (conf/themes.yml, conf/warnings.yml):
loaded, ordered, and a mistake named with its file and field."""

import pytest

from citylake.catalog import CatalogError
from citylake.themes import load_themes
from citylake.warning_rules import load_warning_rules


def test_theme_tables_are_built_after_the_theme_tables_they_read():
    themes = load_themes()
    order = themes.build_order()
    assert order.index("enterprise_month") < order.index("industry_month")
    assert order.index("enterprise_month") < order.index("credit_enterprise_month")
    assert order.index("housing_building_month") < order.index("housing_street_month")
    assert set(order) == set(themes.tables)
    # every table is documented where analysts read it, keys among its columns
    for table in themes.tables.values():
        assert table.description.zh and table.description.en and table.grain
        assert set(table.keys) <= set(table.columns)


def test_every_warning_rule_names_its_subject_and_evidence():
    rules = load_warning_rules().rules
    assert set(rules) == {"enterprise_distress", "ageing_street", "event_surge", "overcrowded_unit",
                          "empty_registered_unit", "delivery_stopped", "quality_drop", "insured_after_death"}
    assert rules["event_surge"].params["k"] == 3.0 and rules["event_surge"].subject == "street"
    assert all(rule.evidence for rule in rules.values())


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r["tables"]["enterprise_month"].update(sorces=[]), "tables.enterprise_month.sorces: unknown key"),
    (lambda r: r["tables"]["grid_event_day"].update(sources=["integrated.grid_events"]),
     "source integrated.grid_events is declared but the sql never reads integrated_grid_events"),
    (lambda r: r["tables"]["grid_event_day"].update(sources=["landing.grid_event"]), "is not <layer>.<table>"),
    (lambda r: r["tables"]["grid_event_day"].update(library="transport"), "library 'transport' is not one of"),
    (lambda r: r["tables"]["industry_month"].update(
        sources=["theme.enterprise_months", "base.legal_entity_history"],
        sql=r["tables"]["industry_month"]["sql"].replace("theme_enterprise_month", "theme_enterprise_months")),
     "source theme.enterprise_months is no theme table declared here"),
    (lambda r: r["tables"]["enterprise_month"].update(
        sources=r["tables"]["enterprise_month"]["sources"] + ["theme.industry_month"],
        sql=r["tables"]["enterprise_month"]["sql"] + " -- theme_industry_month"),
     "cycle: enterprise_month -> industry_month -> enterprise_month"),
    (lambda r: r["tables"]["grid_event_day"].update(keys=["street"]), "keys street are not among the documented"),
])
def test_a_mistake_in_themes_yml_is_named(edited_conf, edit, expected):
    with pytest.raises(CatalogError) as error:
        load_themes(edited_conf("themes.yml", edit))
    assert "themes.yml" in str(error.value) and expected in str(error.value)


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r["rules"]["event_surge"].update(subject="lane"), "rules.event_surge.subject"),
    (lambda r: r["rules"]["event_surge"].update(evidence=["severity"]), "are subject columns, not evidence"),
    (lambda r: r["rules"]["event_surge"].pop("sources"), "rules.event_surge.sources: Field required"),
])
def test_a_mistake_in_warnings_yml_is_named(edited_conf, edit, expected):
    with pytest.raises(CatalogError) as error:
        load_warning_rules(edited_conf("warnings.yml", edit))
    assert "warnings.yml" in str(error.value) and expected in str(error.value)

"""The sharing policy (conf/sharing.yml) loads, covers every documented table, and refuses what
contradicts the rest of conf/ with a message that names it."""

import re

import pytest

from citylake.catalog import load_catalog
from citylake.masks import MASKS
from citylake.sharing import PolicyError, load_policy


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def test_every_documented_table_has_a_class_and_a_known_owner(policy):
    assert len(policy.tables) == len(policy.documented) > 60
    for table in policy.tables.values():
        assert table.sharing in ("unconditional", "conditional", "not_shared")
        assert table.owner in policy.departments


def test_catalog_tables_take_the_resource_class_and_department(policy):
    for resource in load_catalog():
        integrated = policy.table(f"integrated.{resource.table_name}")
        assert (integrated.sharing, integrated.owner) == (resource.sharing, resource.department)
        assert policy.table(f"raw.{resource.table_name}").sharing == "not_shared"


def test_every_catalog_column_of_a_personal_element_is_masked(policy):
    personal = set(policy.file.personal_elements)
    for resource in load_catalog():
        masked = {entry.column for entry in policy.table(f"integrated.{resource.table_name}").personal}
        raw = {entry.column for entry in policy.table(f"raw.{resource.table_name}").personal}
        assert masked == {column.target for column in resource.columns if column.element in personal}
        assert raw == {column.source for column in resource.columns if column.element in personal}


def test_base_columns_taken_from_personal_catalog_columns_are_masked(policy):
    """A base library's column whose documented origin is a personal column of the catalog must be
    declared personal: a new attribute cannot slip through unmasked."""
    from jobs.catalog.registry import declarations, documented_tables

    catalog = load_catalog()
    personal = {f"{resource.qualified_code}.{column.target}" for resource in catalog for column in resource.columns
                if column.element in policy.file.personal_elements}
    docs = documented_tables(declarations(catalog))
    for name, doc in docs.items():
        if doc.layer != "base":
            continue
        declared = {entry.column for entry in policy.table(name).personal}
        for column in doc.columns:
            sources = set(re.findall(r"[a-z]+\.[a-z_]+\.[a-z_]+", column.origin))
            if sources & personal and not column.name.endswith("_code"):
                assert column.name in declared, f"{name}.{column.name} comes from {sources & personal}"


def test_masks_named_by_the_policy_exist(policy):
    for table in policy.tables.values():
        for entry in table.personal:
            assert entry.mask in MASKS


def edited(edited_conf, change):
    return edited_conf("sharing.yml", change)


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw["tables"].update({"base.populace": {"sharing": "conditional"}}),
     "tables.base.populace: table base.populace is not in the catalog"),
    (lambda raw: raw["groups"].update({"x": {"role": "auditor", "department": "psb"}}), "groups.x.role"),
    (lambda raw: raw["personal_elements"].update({"phone": None}), "personal_elements.phone: a personal element without a mask"),
    (lambda raw: raw["personal_elements"].update({"phone": "scramble"}), "unknown mask 'scramble'"),
    (lambda raw: raw["personal_columns"]["base.population"].update({"nickname": "person_name"}),
     "personal_columns.base.population.nickname: base.population has no column nickname"),
    (lambda raw: raw["personal_columns"]["base.legal_entity"].update({"address": "uscc"}),
     "element 'uscc' has no mask in personal_elements"),
    (lambda raw: raw["groups"].update({"y": {"role": "analyst", "department": "police"}}), "unknown department 'police'"),
    (lambda raw: raw["groups"].update({"z": {"role": "district_user", "district": "999999"}}), "not a district"),
    (lambda raw: raw["users"].update({"u": {"group": "nobody"}}), "users.u.group: unknown group 'nobody'"),
    (lambda raw: raw["roles"].pop("analyst"), "roles: role analyst is not declared"),
    (lambda raw: raw["tables"].update({"theme.industry_month": {"territory": "district"}}),
     "theme.industry_month has no column district"),
])
def test_contradictions_fail_on_load_with_their_place(edited_conf, change, message):
    with pytest.raises(PolicyError) as error:
        load_policy(edited(edited_conf, change))
    assert message in str(error.value)
    assert "sharing.yml" in str(error.value)

"""The base libraries' declarations in conf/base.yml: loaded, and checked against the catalog."""

import pytest

from citylake.catalog import CatalogError, load_catalog
from citylake.libraries import load_libraries


def test_each_library_declares_its_sources_by_priority(catalog):
    libraries = load_libraries(catalog)
    population = libraries["population"]
    assert population.key == "id_number"
    assert population.candidates("name")[0] == ("register", "name")
    assert population.views["register"].resource == "psb.household_registration"
    # health's death certificate decides before the register's status
    assert population.candidates("status")[0] == ("death", "status")
    assert {"age", "division_code", "street_code"} <= set(population.columns)
    assert {check.kind for check in population.checks} >= {
        "name_mismatch", "birth_date_mismatch", "deceased_not_registered", "insured_after_death",
        "employer_deregistered", "unknown_residence_unit"}
    assert [library.name for library in libraries] == ["population", "legal_entity", "building", "housing_unit",
                                                       "street"]


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r["population"]["views"]["register"].update(resource="psb.households"),
     "population.views.register.resource: unknown resource 'psb.households'"),
    (lambda r: r["population"]["views"]["register"].update(key="GMSFHM"),
     "population.views.register: 'GMSFHM' is not a column of psb.household_registration"),
    (lambda r: r["population"]["attributes"].update(name=["register.nmae"]),
     "attributes.name: view 'register' has no column 'nmae'"),
    (lambda r: r["population"]["attributes"].update(name=["registry.name"]), "names unknown view 'registry'"),
    (lambda r: r["population"].update(members=["census"]), "members: unknown view 'census'"),
    (lambda r: r["population"]["views"]["insurance"].update(columns={"name": "name"}), "either columns"),
    (lambda r: r["population"]["views"]["register"].update(wehre="status = '0'"), "wehre: unknown key"),
    (lambda r: r["legal_entity"]["checks"][0].update(attribute="capital"), "'capital' is not a column of legal_entity"),
    (lambda r: r["legal_entity"]["checks"][0]["against"].update(match="NSRSBH"),
     "'NSRSBH' is not a column of tax.tax_payment"),
    (lambda r: r["population"]["checks"][6].pop("when"), "compare: exists needs `when`"),
])
def test_a_broken_declaration_names_the_file_and_field(edited_conf, edit, expected):
    conf = edited_conf("base.yml", edit)
    with pytest.raises(CatalogError, match="base.yml") as error:
        load_libraries(load_catalog(conf), conf)
    assert expected in str(error.value)

"""Which consumer department a Trino user belongs to, for usage per department.

The stop-gap source is `departments:` of conf/audit.yml (a user's own entry, else the first of its
groups listed); the sharing policy (conf/sharing.yml) replaces it once it names each consumer's
department: `department_resolver` is the one place that chooses.
"""

from __future__ import annotations

from collections.abc import Callable

from citylake.audit.settings import DepartmentMap, audit_settings
from citylake.catalog import Catalog, load_catalog

UNMAPPED = "unmapped"


def from_map(departments: DepartmentMap) -> Callable[[str, list[str]], str]:
    """department_of(user, groups) by the map: the user's entry, else its first listed group's."""

    def department_of(user: str, groups: list[str]) -> str:
        if user in departments.users:
            return departments.users[user]
        for group in sorted(groups):
            if group in departments.groups:
                return departments.groups[group]
        return UNMAPPED

    return department_of


def department_resolver() -> Callable[[str, list[str]], str]:
    """The department_of(user, groups) the audit uses."""
    return from_map(audit_settings().departments)


def table_owners(catalog: Catalog | None = None, lake_catalog: str = "lake") -> dict[str, str]:
    """Owner department of each lake table whose owner is known, by catalog.schema.table: a
    resource's raw and integrated tables are its department's (the sharing policy adds the others)."""
    catalog = catalog or load_catalog()
    return {f"{lake_catalog}.{layer}.{resource.table_name}": resource.department
            for resource in catalog for layer in ("raw", "integrated")}

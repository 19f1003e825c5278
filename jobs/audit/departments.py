"""Which consumer a Trino user acts for, and whose data each table is, for usage per department.

The sharing policy (conf/sharing.yml, citylake.sharing) is the source once it is there: a user's
group names its department, or its district (a division code) for district users; admins act for
the platform. A user or group the policy does not know, or a deployment without the policy, falls
back on `departments:` of conf/audit.yml. `department_resolver` and `table_owners` are the one
place that chooses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from citylake.audit.settings import DepartmentMap, audit_settings
from citylake.catalog import Catalog, load_catalog
from citylake.settings import conf_dir

if TYPE_CHECKING:
    from citylake.sharing import SharingPolicy

UNMAPPED = "unmapped"

DepartmentOf = Callable[[str, list[str]], str]


def from_map(departments: DepartmentMap) -> DepartmentOf:
    """department_of(user, groups) by the map: the user's entry, else its first listed group's."""

    def department_of(user: str, groups: list[str]) -> str:
        if user in departments.users:
            return departments.users[user]
        for group in sorted(groups):
            if group in departments.groups:
                return departments.groups[group]
        return UNMAPPED

    return department_of


def from_policy(policy: SharingPolicy, fallback: DepartmentOf) -> DepartmentOf:
    """department_of(user, groups) by the sharing policy's users and groups, else `fallback`."""

    def consumer(group_name: str) -> str:
        group = policy.groups[group_name]
        return group.consumer or policy.platform.code

    def department_of(user: str, groups: list[str]) -> str:
        if user in policy.users:
            return consumer(policy.users[user].group)
        known = sorted(group for group in groups if group in policy.groups)
        return consumer(known[0]) if known else fallback(user, groups)

    return department_of


def sharing_policy() -> SharingPolicy | None:
    """The sharing policy, when this deployment's conf/ has one."""
    if not (conf_dir() / "sharing.yml").exists():
        return None
    from citylake.sharing import load_policy  # the policy reads every job's declarations: import late

    return load_policy()


def department_resolver(policy: SharingPolicy | None) -> DepartmentOf:
    """The department_of(user, groups) the audit uses: by the policy (`sharing_policy()`) when
    there is one, else by conf/audit.yml's map."""
    fallback = from_map(audit_settings().departments)
    return from_policy(policy, fallback) if policy is not None else fallback


def table_owners(policy: SharingPolicy | None, catalog: Catalog | None = None,
                 lake_catalog: str = "lake") -> dict[str, str]:
    """Owner department of each lake table whose owner is known, by catalog.schema.table: the
    policy's owner of every documented table, else a resource's department for its raw and
    integrated tables."""
    if policy is not None:
        return {f"{lake_catalog}.{name}": table.owner for name, table in policy.tables.items()}
    catalog = catalog or load_catalog()
    return {f"{lake_catalog}.{layer}.{resource.table_name}": resource.department
            for resource in catalog for layer in ("raw", "integrated")}

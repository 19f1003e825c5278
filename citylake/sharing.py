"""The sharing policy (`conf/sharing.yml`): every lake table's sharing class, owner, territory
column and personal columns with their masks; the consumers (departments, districts) and their
users in groups with roles. Validated on load against the catalog, the divisions and the tables
the jobs document, so a misspelt table, role, department or element fails here, by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from citylake.catalog import Catalog, _Strict, load_catalog, load_divisions
from citylake.masks import MASKS
from citylake.settings import ConfigError, conf_dir as active_conf_dir, lake_layout, read_yaml, validation_message

Sharing = Literal["unconditional", "conditional", "not_shared"]
Role = Literal["admin", "department_owner", "analyst", "data_scientist", "district_user"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]
SHARING_NAMES = {"unconditional": "无条件共享", "conditional": "有条件共享", "not_shared": "不予共享"}
CODE = r"^[a-z][a-z0-9_]*$"


class PolicyError(ConfigError):
    """conf/sharing.yml contradicts itself or the rest of conf/; the message names what and where."""


class Platform(_Strict):
    code: str = Field(pattern=CODE)
    name: str
    name_en: str


class RoleRights(_Strict):
    """The layers a role reads besides its own department's tables; whether it answers requests."""

    layers: list[str] = Field(min_length=1)
    answers_requests: bool = False


class LayerDefault(_Strict):
    """A layer's default class, owner and territory column; `catalog`: the resource's own class."""

    sharing: Sharing | Literal["catalog"]
    owner: str | None = None
    territory: str | None = None


class TableOverride(_Strict):
    sharing: Sharing | None = None
    owner: str | None = None
    territory: str | None = None


class PersonalColumn(_Strict):
    """A column holding a personal element (its mask from `personal_elements`) or a mask by name;
    `when`: a SQL condition on the row, masking only the rows where it holds."""

    element: str | None = None
    mask: str | None = None
    when: str | None = None

    @model_validator(mode="after")
    def _element_or_mask(self) -> PersonalColumn:
        if (self.element is None) == (self.mask is None):
            raise ValueError("give either element (its mask from personal_elements) or mask, not both")
        return self


class Group(_Strict):
    """One consumer's users in one role: a department's, a district's, or the admins."""

    role: Role
    department: str | None = None
    district: str | None = None

    @model_validator(mode="after")
    def _consumer_fits_role(self) -> Group:
        if self.role == "admin" and (self.department or self.district):
            raise ValueError("an admin group belongs to no department or district")
        if self.role == "district_user" and (not self.district or self.department):
            raise ValueError("a district_user group names its district (a division code), no department")
        if self.role not in ("admin", "district_user") and (not self.department or self.district):
            raise ValueError(f"a {self.role} group names its department, no district")
        return self

    @property
    def consumer(self) -> str | None:
        """The department code or district division code the group's users act for."""
        return self.department or self.district


class User(_Strict):
    group: str
    description: str = ""


class PolicyFile(_Strict):
    platform: Platform
    reply_deadline_working_days: dict[Sharing, int] = Field(min_length=1)
    roles: dict[Role, RoleRights]
    layers: dict[str, LayerDefault]
    tables: dict[str, TableOverride] = Field(default_factory=dict)
    personal_elements: dict[str, str | None]
    personal_columns: dict[str, dict[str, str | PersonalColumn]] = Field(default_factory=dict)
    groups: dict[str, Group] = Field(min_length=1)
    users: dict[str, User] = Field(min_length=1)


@dataclass(frozen=True)
class MaskedColumn:
    """A personal column of a table: its mask and the rows it applies to (all when `when` is None)."""

    column: str
    mask: str
    when: str | None = None
    element: str | None = None


@dataclass(frozen=True)
class TablePolicy:
    """What the policy says about one lake table."""

    name: str
    sharing: Sharing
    owner: str
    territory: str | None
    personal: tuple[MaskedColumn, ...] = ()

    @property
    def layer(self) -> str:
        return self.name.partition(".")[0]

    def personal_column(self, column: str) -> MaskedColumn | None:
        return next((entry for entry in self.personal if entry.column == column), None)


@dataclass(frozen=True)
class SharingPolicy:
    """The validated policy with the catalog and divisions it refers to."""

    file: PolicyFile
    catalog: Catalog
    districts: dict[str, str]  # division code -> name
    documented: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table -> its columns
    path: Path | None = None

    @property
    def platform(self) -> Platform:
        return self.file.platform

    @cached_property
    def departments(self) -> dict[str, str]:
        """Every department code that can own or consume: the catalog's and the platform."""
        names = {code: entry.department.name for code, entry in self.catalog.departments.items()}
        return names | {self.platform.code: self.platform.name}

    @property
    def groups(self) -> dict[str, Group]:
        return self.file.groups

    @property
    def users(self) -> dict[str, User]:
        return self.file.users

    def group_of(self, user: str) -> Group:
        try:
            return self.groups[self.users[user].group]
        except KeyError:
            raise PolicyError(f"unknown user {user!r}; users are {', '.join(self.users)}") from None

    def role_of(self, user: str) -> str:
        return self.group_of(user).role

    def layers_of(self, role: str) -> list[str]:
        return self.file.roles[role].layers

    def reply_days(self, sharing: str) -> int:
        return self.file.reply_deadline_working_days.get(sharing, 0)

    def consumer_name(self, consumer: str | None) -> str:
        if consumer is None:
            return "admins"
        return self.departments.get(consumer) or self.districts.get(consumer) or consumer

    @cached_property
    def tables(self) -> dict[str, TablePolicy]:
        """The policy of every table the jobs document (a table not documented: `table()`)."""
        return {name: self.table(name) for name in sorted(self.documented)}

    def table(self, name: str) -> TablePolicy:
        """The policy of a lake table, documented or not (its layer's defaults then)."""
        layer, _, table = name.partition(".")
        default = self.file.layers.get(layer)
        if default is None or not table:
            raise PolicyError(f"{name!r} is not <layer>.<table> of a lake layer")
        override = self.file.tables.get(name, TableOverride())
        resource = self._resource_of(layer, table)
        sharing = override.sharing or default.sharing
        if sharing == "catalog":
            if resource is None:
                raise PolicyError(f"{name}: layer {layer} takes the catalog's class, but no resource is {table}")
            sharing = resource.sharing
        owner = override.owner or default.owner or (resource.department if resource else self.platform.code)
        territory = override.territory if "territory" in override.model_fields_set else default.territory
        if resource is not None and "territory" not in override.model_fields_set:
            territory = self._resource_territory(layer, resource)
        return TablePolicy(name=name, sharing=sharing, owner=owner, territory=territory,
                           personal=self._personal(name, layer, resource))

    def _resource_of(self, layer: str, table: str):
        if layer not in ("raw", "integrated"):
            return None
        for resource in self.catalog.resources:
            if table in (resource.table_name, f"{resource.table_name}_history"):
                return resource
        return None

    @staticmethod
    def _resource_territory(layer: str, resource) -> str | None:
        # the raw layer keeps the delivered column names, the integrated layer the standard ones
        source = resource.division_column or resource.street_column
        if source is None:
            return None
        return source if layer == "raw" else resource.column(source).target

    def _personal(self, name: str, layer: str, resource) -> tuple[MaskedColumn, ...]:
        columns: list[MaskedColumn] = []
        if resource is not None:
            for column in resource.columns:
                mask = self.file.personal_elements.get(column.element)
                if mask:
                    columns.append(MaskedColumn(column.source if layer == "raw" else column.target, mask,
                                                element=column.element))
        for column, spec in self.file.personal_columns.get(name, {}).items():
            spec = PersonalColumn(element=spec) if isinstance(spec, str) else spec
            mask = spec.mask or self.file.personal_elements.get(spec.element)
            if mask:  # an element without a mask is reported by the validation
                columns.append(MaskedColumn(column, mask, spec.when, spec.element))
        return tuple(columns)


def load_policy(conf_dir: Path | None = None, catalog: Catalog | None = None) -> SharingPolicy:
    """Read and validate `conf/sharing.yml` against the catalog, elements, divisions and the
    tables the jobs document."""
    conf_dir = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    path = conf_dir / "sharing.yml"
    try:
        policy_file = PolicyFile.model_validate(read_yaml(path))
    except ValidationError as error:
        raise PolicyError(validation_message(path, error)) from None
    catalog = catalog or load_catalog(conf_dir)
    divisions = load_divisions(conf_dir)
    policy = SharingPolicy(file=policy_file, catalog=catalog,
                           districts={district.code: district.name for district in divisions.districts},
                           documented=documented_columns(catalog), path=path)
    problems = _problems(policy)
    if problems:
        raise PolicyError(f"{path}:\n  " + "\n  ".join(problems))
    return policy


def documented_columns(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """Every table the jobs document (jobs/catalog/registry.py), with its columns."""
    from jobs.catalog.registry import declarations, documented_tables

    return {name: tuple(column.name for column in doc.columns)
            for name, doc in documented_tables(declarations(catalog)).items()}


def _problems(policy: SharingPolicy) -> list[str]:
    file = policy.file
    layers = set(lake_layout().layers)
    problems = [f"layers: no entry for layer {layer}" for layer in sorted(layers - set(file.layers))]
    problems += [f"layers: {layer} is not a lake layer ({', '.join(sorted(layers))})"
                 for layer in sorted(set(file.layers) - layers)]
    problems += [f"roles: role {role} is not declared" for role in ROLES if role not in file.roles]
    problems += [f"roles.{role}.layers: {layer} is not a lake layer"
                 for role, rights in file.roles.items() for layer in rights.layers if layer not in layers]
    problems += _owner_problems(policy)
    problems += _table_problems(policy)
    problems += _element_problems(policy)
    problems += _consumer_problems(policy)
    return problems


def _owner_problems(policy: SharingPolicy) -> list[str]:
    owners = [(f"layers.{layer}.owner", entry.owner) for layer, entry in policy.file.layers.items()]
    owners += [(f"tables.{table}.owner", entry.owner) for table, entry in policy.file.tables.items()]
    return [f"{where}: unknown department {owner!r} (known: {', '.join(sorted(policy.departments))})"
            for where, owner in owners if owner is not None and owner not in policy.departments]


def _unknown_table(policy: SharingPolicy, where: str, table: str) -> str | None:
    if table in policy.documented:
        return None
    return (f"{where}: table {table} is not in the catalog, the base libraries, the themes or the warnings "
            "(no job documents it)")


def _table_problems(policy: SharingPolicy) -> list[str]:
    problems = []
    for table, override in policy.file.tables.items():
        problem = _unknown_table(policy, f"tables.{table}", table)
        if problem:
            problems.append(problem)
            continue
        if override.territory and override.territory not in policy.documented[table]:
            problems.append(f"tables.{table}.territory: {table} has no column {override.territory}")
    for name in policy.documented:
        try:
            entry = policy.table(name)
        except PolicyError as error:
            problems.append(str(error))
            continue
        if entry.territory and policy.documented[name] and entry.territory not in policy.documented[name]:
            problems.append(f"{name}: territory column {entry.territory} is not one of its columns "
                            f"(set tables.{name}.territory, or null for none)")
    return problems


def _element_problems(policy: SharingPolicy) -> list[str]:
    file, elements = policy.file, policy.catalog.elements
    problems = []
    for element, mask in file.personal_elements.items():
        if element not in elements:
            problems.append(f"personal_elements.{element}: not a data element of elements.yml")
        if not mask:
            problems.append(f"personal_elements.{element}: a personal element without a mask")
        elif mask not in MASKS:
            problems.append(f"personal_elements.{element}: unknown mask {mask!r} (masks: {', '.join(MASKS)})")
    for table, columns in file.personal_columns.items():
        problem = _unknown_table(policy, f"personal_columns.{table}", table)
        if problem:
            problems.append(problem)
            continue
        for column, spec in columns.items():
            spec = PersonalColumn(element=spec) if isinstance(spec, str) else spec
            where = f"personal_columns.{table}.{column}"
            if column not in policy.documented[table]:
                problems.append(f"{where}: {table} has no column {column}")
            if spec.element is not None and not file.personal_elements.get(spec.element):
                problems.append(f"{where}: element {spec.element!r} has no mask in personal_elements")
            if spec.mask is not None and spec.mask not in MASKS:
                problems.append(f"{where}: unknown mask {spec.mask!r} (masks: {', '.join(MASKS)})")
    return problems


def _consumer_problems(policy: SharingPolicy) -> list[str]:
    problems = []
    for name, group in policy.groups.items():
        if group.department and group.department not in policy.departments:
            problems.append(f"groups.{name}.department: unknown department {group.department!r}")
        if group.district and group.district not in policy.districts:
            problems.append(f"groups.{name}.district: {group.district!r} is not a district of divisions.yml")
    for name, user in policy.users.items():
        if user.group not in policy.groups:
            problems.append(f"users.{name}.group: unknown group {user.group!r}")
    if not any(group.role == "admin" for group in policy.groups.values()):
        problems.append("groups: no admin group (the platform's jobs log in as an admin)")
    return problems


"""Who reads what, decided from the sharing policy and the approvals in force: for one group of
users and one lake table, whether they read it, which rows (a district's territory, approvals'
validity), which columns are hidden and which are masked. Trino's access rules are generated from
this (`citylake.trino.security`); exchange packages apply the same decision.

An approval's end is written into the expressions themselves (`current_timestamp < ...`), so Trino
stops honouring it at that second even before the rules are regenerated without it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from citylake.masks import conditional_sql
from citylake.sharing import Group, SharingPolicy, TablePolicy


@dataclass(frozen=True)
class Grant:
    """An approved request in force: the consumer's users read the table (these columns, or all),
    the personal ones among them in clear if `cleartext`, until `until` (exclusive)."""

    request_id: str
    consumer: str
    table: str
    until: datetime
    columns: tuple[str, ...] | None = None
    cleartext: bool = False

    def active(self, now: datetime) -> bool:
        return now < self.until


@dataclass(frozen=True)
class TableAccess:
    """One group's access to one table: readable or not, the row filter, hidden and masked columns."""

    readable: bool
    filter: str | None = None
    hidden: tuple[str, ...] = ()
    masks: dict[str, str] = field(default_factory=dict)
    why: str = ""


DENIED = TableAccess(False)


def _until_sql(until: datetime) -> str:
    """A moment as a Trino timestamp literal in UTC (a naive one is taken as UTC)."""
    utc = until.astimezone(timezone.utc) if until.tzinfo else until
    return f"TIMESTAMP '{utc:%Y-%m-%d %H:%M:%S} UTC'"


def _quoted(column: str) -> str:
    return '"' + column.lower().replace('"', '""') + '"'


def table_access(policy: SharingPolicy, group: Group, table: TablePolicy, grants: list[Grant],
                 now: datetime, columns: tuple[str, ...] = ()) -> TableAccess:
    """The access of `group`'s users to `table`, given the grants in force at `now`; `columns`: the
    table's columns (for hiding the ones an approval does not cover)."""
    if group.role == "admin":
        return TableAccess(True, why="admin")
    if group.department is not None and group.department == table.owner:
        return TableAccess(True, why="owner")
    if table.layer not in policy.layers_of(group.role):
        return TableAccess(False, why=f"layer {table.layer} is not the {group.role}'s")
    if group.role == "district_user" and table.territory is None:
        return TableAccess(False, why="no territory column")
    mine = [grant for grant in grants
            if grant.consumer == group.consumer and grant.table == table.name and grant.active(now)]
    if table.sharing == "not_shared":
        return TableAccess(False, why="not shared")
    if table.sharing == "conditional" and not mine:
        return TableAccess(False, why="conditional, no approval")
    filters = []
    if group.role == "district_user":
        filters.append(f"substr({_quoted(table.territory)}, 1, 6) = '{group.district}'")
    hidden: tuple[str, ...] = ()
    if table.sharing == "conditional":
        filters.append(f"current_timestamp < {_until_sql(max(grant.until for grant in mine))}")
        if all(grant.columns is not None for grant in mine):
            granted = {column.lower() for grant in mine for column in grant.columns}
            hidden = tuple(column.lower() for column in columns if column.lower() not in granted)
    masks = {}
    for personal in table.personal:
        name = personal.column.lower()
        if name in hidden:
            continue
        masked = conditional_sql(personal.mask, _quoted(name), personal.when)
        clear_until = [grant.until for grant in mine if grant.cleartext
                       and (grant.columns is None or name in {column.lower() for column in grant.columns})]
        if clear_until:
            masked = f"(CASE WHEN current_timestamp < {_until_sql(max(clear_until))} THEN {_quoted(name)} ELSE {masked} END)"
        masks[name] = masked
    return TableAccess(True, " AND ".join(filters) or None, hidden, masks,
                       why="approved" if mine else table.sharing)


# --------------------------------------------------------------------------- approvals in force

def grants_file(var: Path) -> Path:
    """Where the approvals in force are kept for the rules' generation (from lake.ops.share_request)."""
    return var / "sharing" / "grants.json"


def read_grants(var: Path) -> list[Grant]:
    """The approvals in force as last written; none when nothing was ever approved."""
    path = grants_file(var)
    if not path.exists():
        return []
    return [Grant(request_id=item["request_id"], consumer=item["consumer"], table=item["table"],
                  until=datetime.fromisoformat(item["until"]),
                  columns=tuple(item["columns"]) if item.get("columns") is not None else None,
                  cleartext=bool(item.get("cleartext"))) for item in json.loads(path.read_text())]


def write_grants(var: Path, grants: list[Grant]) -> None:
    """Replace the approvals in force, atomically."""
    items = [asdict(grant) | {"until": grant.until.isoformat()} for grant in grants]
    write_atomically(grants_file(var), json.dumps(items, ensure_ascii=False, indent=1, default=list))


def write_atomically(path: Path, text: str) -> None:
    """Write a file so that a reader sees the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)

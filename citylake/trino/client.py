"""Talking to Trino from Python: queries into rows or pandas, and keeping the `lake` catalog in step
with the Delta tables Spark writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import requests
import trino
from trino.auth import BasicAuthentication

from citylake.trino import security
from citylake.trino.instance import TrinoError, local_location, node_id, presents_certificate
from citylake.settings import Profile, lake_layout, profile as active_profile


def connect(profile: Profile | None = None, user: str | None = None, password: str | None = None,
            **kwargs: Any) -> trino.dbapi.Connection:
    """A DB-API connection to the profile's Trino over HTTPS, on the `lake` catalog, logged in as
    `user` (default: the platform's own, `trino.user`) with the password from the secrets file."""
    profile = profile or active_profile()
    user = user or profile.trino.user
    session = requests.Session()
    # requests lets REQUESTS_CA_BUNDLE override a session's own trust: not for this server's certificate
    session.trust_env = False
    certificate = security.certificate_path(profile)
    session.verify = str(certificate) if profile.trino.managed and certificate.exists() else True
    return trino.dbapi.connect(
        host=profile.trino.host, port=profile.trino.port, user=user, catalog=profile.trino.catalog,
        http_scheme="https", auth=BasicAuthentication(user, password or security.password_of(profile, user)),
        http_session=session, **kwargs,
    )


def run_query(profile: Profile | None, sql: str, params: list[Any] | None = None, user: str | None = None) -> list[tuple]:
    """All rows of one statement."""
    with connect(profile, user) as connection:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def query_df(sql: str, profile: Profile | None = None, params: list[Any] | None = None,
             user: str | None = None) -> pd.DataFrame:
    """One statement's result as a pandas DataFrame, with Trino's column names."""
    with connect(profile, user) as connection:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        columns = [column[0] for column in cursor.description]
    return pd.DataFrame.from_records(rows, columns=columns)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ensure_schemas(profile: Profile) -> None:
    """Create every layer's schema in the lake catalog, each located in its warehouse folder."""
    catalog = _quote(profile.trino.catalog)
    existing = {row[0] for row in run_query(profile, f"SHOW SCHEMAS FROM {catalog}")}
    for schema in lake_layout().layers:
        if schema in existing:
            continue
        location = local_location(profile, profile.path("warehouse") / schema)
        run_query(profile, f"CREATE SCHEMA IF NOT EXISTS {catalog}.{_quote(schema)} "
                           f"WITH (location = {_literal(location)})")


def delta_tables_on_disk(warehouse: Path) -> dict[tuple[str, str], Path]:
    """Every Delta table in the warehouse, by (schema, table): folders `<schema>/<table>/_delta_log`."""
    tables = {}
    for schema in lake_layout().layers:
        folder = warehouse / schema
        if not folder.is_dir():
            continue
        for table in sorted(folder.iterdir()):
            if (table / "_delta_log").is_dir() and any((table / "_delta_log").glob("*.json")):
                tables[(schema, table.name)] = table
    return tables


def registered_tables(profile: Profile) -> set[tuple[str, str]]:
    """(schema, table) of every table Trino's lake catalog knows in a layer schema."""
    layers = list(lake_layout().layers)
    placeholders = ", ".join("?" for _ in layers)
    rows = run_query(
        profile,
        f"SELECT table_schema, table_name FROM {_quote(profile.trino.catalog)}.information_schema.tables "
        f"WHERE table_schema IN ({placeholders})",
        layers,
    )
    return {(schema, table) for schema, table in rows}


# Tables this process saw registered, per server: later commits need no look-up, as Trino
# reads each table's schema and files from its Delta log.
_registered: set[tuple[str, int, str, str]] = set()


def _server_key(profile: Profile) -> tuple[str, int]:
    return profile.trino.host, profile.trino.port


# Servers this process found serving its profile's warehouse.
_own_servers: set[tuple[str, int, str]] = set()


def serves_this_lake(profile: Profile) -> bool:
    """Whether the Trino at the profile's address is the one started for the profile's warehouse
    (its coordinator's node id names the warehouse), not a server of another lake on that port."""
    expected = node_id(profile)
    if (*_server_key(profile), expected) in _own_servers:
        return True
    certificate = security.certificate_path(profile)
    if profile.trino.managed and not (certificate.exists() and presents_certificate(profile, certificate)):
        return False  # each lake's server has its own certificate
    rows = run_query(profile, "SELECT node_id FROM system.runtime.nodes WHERE coordinator")
    if rows and rows[0][0] == expected:
        _own_servers.add((*_server_key(profile), expected))
        return True
    return False


def require_own_server(profile: Profile) -> None:
    """Raise a clear error when the Trino at the profile's address serves another lake."""
    if not serves_this_lake(profile):
        raise TrinoError(
            f"the Trino at {profile.trino.host}:{profile.trino.port} serves another lake, not "
            f"{profile.path('warehouse')}: stop it (citylake trino stop, with that lake's settings) or give "
            f"this lake its own port (CITYLAKE__TRINO__PORT)")


def known_registered(profile: Profile, schema: str, table: str) -> bool:
    return (*_server_key(profile), schema, table) in _registered


def ensure_registered(profile: Profile, schema: str, table: str, path: Path) -> None:
    """Register the table unless Trino knows it already."""
    if (schema, table) not in registered_tables(profile):
        ensure_schemas(profile)
        register_table(profile, schema, table, path)
    _registered.add((*_server_key(profile), schema, table))


def register_table(profile: Profile, schema: str, table: str, path: Path) -> None:
    """Make a Delta table Spark wrote visible in Trino (the file metastore needs an entry)."""
    # CALL takes no prepared-statement parameters: literals, escaped.
    run_query(
        profile,
        f"CALL {_quote(profile.trino.catalog)}.system.register_table(schema_name => {_literal(schema)}, "
        f"table_name => {_literal(table)}, table_location => {_literal(local_location(profile, path))})",
    )


def unregister_table(profile: Profile, schema: str, table: str) -> None:
    _registered.discard((*_server_key(profile), schema, table))
    run_query(
        profile,
        f"CALL {_quote(profile.trino.catalog)}.system.unregister_table("
        f"schema_name => {_literal(schema)}, table_name => {_literal(table)})",
    )


def sync_catalog(profile: Profile) -> dict[str, list[str]]:
    """Register tables that appeared on disk and drop entries whose folder is gone."""
    if profile.trino.metastore != "file":
        return {"registered": [], "unregistered": []}  # a shared metastore needs no mirroring
    require_own_server(profile)
    ensure_schemas(profile)
    on_disk = delta_tables_on_disk(profile.path("warehouse"))
    known = registered_tables(profile)
    added = sorted(set(on_disk) - known)
    gone = sorted(known - set(on_disk))
    for schema, table in added:
        register_table(profile, schema, table, on_disk[(schema, table)])
    for schema, table in gone:
        unregister_table(profile, schema, table)
    return {"registered": [f"{s}.{t}" for s, t in added], "unregistered": [f"{s}.{t}" for s, t in gone]}

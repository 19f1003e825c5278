"""Running a dashboard's SQL on the lake through Trino, and the lake's as-of time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd

from citylake.dashboards.scope import Scope, lake_zone
from citylake.settings import profile

# A function running one statement with `?` parameters: citylake.trino.client.query_df, or a
# stand-in in unit tests.
Query = Callable[..., pd.DataFrame]
LEDGER = "ops.batch_ledger"


def table(name: str) -> str:
    """A lake table's name in Trino: `ops.quarantine` -> `lake.ops.quarantine`."""
    return f"{profile().trino.catalog}.{name}"


def run(query: Query | None, sql: str, params: list) -> pd.DataFrame:
    """The statement's result through `query`, by default the profile's Trino."""
    if query is None:
        from citylake.trino.client import query_df

        # dashboards read the lake as their own role user, under the sharing rules
        return query_df(sql, params=params, user=profile().trino.security.dashboard_user)
    return query(sql, params=params)


def data_as_of_sql(scope: Scope) -> tuple[str, list]:
    bound, params = ("AND extracted_at < ?", [scope.until]) if scope.until else ("", [])
    return f"SELECT max(extracted_at) AS as_of FROM {table(LEDGER)} WHERE status = 'landed' {bound}", params


def data_as_of(scope: Scope, query: Query | None = None) -> datetime | None:
    """The lake's latest business time within the scope: when the last landed batch (up to the
    as-of day) was extracted, in the lake's time zone; None when no batch has landed."""
    value = run(query, *data_as_of_sql(scope))["as_of"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime().astimezone(lake_zone())

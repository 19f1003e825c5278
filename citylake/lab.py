"""One line each for a notebook: `from citylake.lab import spark, trino; s = spark(); df = trino("SELECT ...")`."""

from __future__ import annotations

from typing import Any


def spark():
    """The lake's Spark session (Delta, the profile's settings), created on first call."""
    from citylake.spark import spark_session

    return spark_session()


def trino(sql: str, params: list[Any] | None = None):
    """One statement on the lake's Trino, as the notebooks' user, as a pandas DataFrame (`?` placeholders take `params`)."""
    from citylake.settings import profile
    from citylake.trino.client import query_df

    return query_df(sql, params=params, user=profile().trino.security.dashboard_user)

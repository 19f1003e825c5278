"""Back-flow to a district (回流): the rows of its own territory of every table the sharing policy
lets district users read, masked as the district role's rights say, under
`<var>/exchange/backflow/<district code>/<package id>/`, each send in `lake.ops.exchange_send`.

The decision per table is `citylake.access.table_access` for the district's group (the one the
policy declares for it, else a district_user group of that district): the same row filter, masks
and hidden columns Trino applies to that district's users, run by Spark on the table's version.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.access import TableAccess, read_grants, table_access
from citylake.catalog import District
from citylake.dashboards.scope import resolve_district
from citylake.settings import profile
from citylake.sharing import Group, SharingPolicy, load_policy
from jobs.exchange import ledger
from jobs.exchange.package import ExchangeError, PackageTable, current_version, read_version, write_package
from jobs.exchange.report import Sent
from jobs.exchange.settings import ExchangeSettings, exchange_dir, load_exchange, time_zone


def district_group(policy: SharingPolicy, district: District) -> tuple[str, Group]:
    """The district users' group of the policy (its name and rights); a district without one gets
    the district_user role's rights for its territory."""
    for name, group in policy.groups.items():
        if group.role == "district_user" and group.district == district.code:
            return name, group
    return f"district_user:{district.code}", Group(role="district_user", district=district.code)


def district_tables(spark: SparkSession, policy: SharingPolicy, group: Group,
                    now: datetime) -> tuple[dict[str, TableAccess], list[str]]:
    """The tables the group reads, with its access to each, and those it could read but that are not
    built yet."""
    grants = read_grants(profile().path("var"))
    readable, missing = {}, []
    for name, entry in policy.tables.items():
        access = table_access(policy, group, entry, grants, now, policy.documented[name])
        if not access.readable:
            continue
        if lake.table_exists(spark, name):
            readable[name] = access
        else:
            missing.append(name)
    return readable, missing


@contextmanager
def trino_dialect(spark: SparkSession) -> Iterator[None]:
    """Spark parsing `"column"` as an identifier, as Trino does: the access rules' expressions are
    written for Trino and parsed here unchanged."""
    key = "spark.sql.ansi.doubleQuotedIdentifiers"
    before = spark.conf.get(key, None)
    spark.conf.set(key, "true")
    try:
        yield
    finally:
        spark.conf.unset(key) if before is None else spark.conf.set(key, before)


def as_district_sees(frame: DataFrame, access: TableAccess) -> DataFrame:
    """The rows and columns the access lets through: row filter applied, hidden columns dropped,
    masked columns masked (all in one projection, so a mask's condition reads the clear row)."""
    spark = frame.sparkSession
    with trino_dialect(spark):
        if access.filter:
            frame = frame.where(F.expr(access.filter))
        hidden = set(access.hidden)
        return frame.select([F.expr(access.masks[c.lower()]).alias(c) if c.lower() in access.masks else F.col(f"`{c}`")
                             for c in frame.columns if c.lower() not in hidden])


def backflow(spark: SparkSession, district: str, resend: bool = False, policy: SharingPolicy | None = None,
             settings: ExchangeSettings | None = None) -> tuple[Sent, list[str]]:
    """The district's package (code or name) and the readable tables left out as not built yet."""
    policy, settings = policy or load_policy(), settings or load_exchange()
    place = resolve_district(district)
    if place is None:
        raise ExchangeError("name the district: its code or name (citylake exchange backflow 350502)")
    group_name, group = district_group(policy, place)
    readable, missing = district_tables(spark, policy, group, datetime.now(timezone.utc))
    if not readable:
        raise ExchangeError(f"no lake table the policy lets {place.name} read is built yet"
                            + (f" ({', '.join(missing)})" if missing else ""))
    tables = []
    for name, access in readable.items():
        source = current_version(spark, name)
        columns = read_version(spark, source).columns
        tables.append(PackageTable(source, as_district_sees(read_version(spark, source), access), name, {
            "row_filter": access.filter, "masked": sorted(c for c in columns if c.lower() in access.masks),
            "removed": sorted(c for c in columns if c.lower() in set(access.hidden)), "why": access.why}))
    header = {"kind": "backflow", "resource": f"backflow:{place.code}",
              "district": {"code": place.code, "name": place.name, "name_en": place.name_en},
              "rights": {"group": group_name, "role": group.role},
              "sender": {"code": policy.platform.code, "name": policy.platform.name}}
    written = write_package(exchange_dir() / "backflow" / place.code, place.code, header, tables,
                            settings.rows_per_file, time_zone())
    already = ledger.sends(spark, written.package_id)
    if already and not resend:
        return Sent(written, None), missing
    row = ledger.record_send(spark, written, "backflow", place.code, header["resource"], resend=bool(already))
    return Sent(written, row), missing

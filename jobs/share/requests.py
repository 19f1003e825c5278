"""Requests and approvals (有条件共享): a consumer's user asks for a table (some columns or all,
personal ones in clear or not) for a purpose until a day; the owner department answers within the
working days its class allows. `lake.ops.share_request` holds one row per request in its current
state, `lake.ops.share_request_history` every step with who, when and why.

pending -> approved | rejected;  approved -> revoked (the owner) | expired (its day is past).
A request for an unconditional table (not asking for clear text) is approved at once: the class
says so. The negative list (not shared) takes no requests. After every change the approvals in
force are written for Trino's rules (`citylake.access.write_grants`) and the rules regenerated
(`citylake.trino.security.refresh`): Trino applies them within its refresh period.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from pyspark.sql import SparkSession

from citylake import lake
from citylake.access import Grant, write_grants
from citylake.ops_tables import SHARE_REQUEST, SHARE_REQUEST_HISTORY
from citylake.settings import Profile, profile as active_profile
from citylake.sharing import SharingPolicy, load_policy

REQUESTS, REQUEST = SHARE_REQUEST.name, SHARE_REQUEST.schema
HISTORY, STEP = SHARE_REQUEST_HISTORY.name, SHARE_REQUEST_HISTORY.schema
ZONE = ZoneInfo("Asia/Shanghai")
PENDING, APPROVED, REJECTED, REVOKED, EXPIRED = "pending", "approved", "rejected", "revoked", "expired"
STATUSES = (PENDING, APPROVED, REJECTED, REVOKED, EXPIRED)
AUTOMATIC = "citylake share"  # who answers what the policy decides by itself


class ShareError(ValueError):
    """A request or an answer the policy does not allow; the message says why."""


# --------------------------------------------------------------------------- working days


def is_working_day(day: date) -> bool:
    """China's official working days (holidays and adjusted weekends, 调休) where the calendar
    package knows the year; Monday to Friday beyond it."""
    import chinese_calendar

    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The day `days` working days after `start` (`start` itself for 0)."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        days -= is_working_day(day)
    return day


# --------------------------------------------------------------------------- reading


def requests_frame(spark: SparkSession, profile: Profile | None = None) -> pd.DataFrame:
    """Every request in its current state (empty when none was ever made)."""
    if not lake.table_exists(spark, REQUESTS, profile):
        return pd.DataFrame(columns=REQUEST.fieldNames())
    return lake.read_table(spark, REQUESTS, profile).toPandas()


def find_request(spark: SparkSession, request_id: str, profile: Profile | None = None) -> dict:
    frame = requests_frame(spark, profile)
    found = frame[frame["request_id"] == request_id]
    if found.empty:
        raise ShareError(f"no share request {request_id!r} (citylake share list)")
    return _clean(found.iloc[0].to_dict())


def list_requests(spark: SparkSession, status: str | None = None, overdue_on: date | None = None,
                  profile: Profile | None = None) -> pd.DataFrame:
    """Requests, newest first; `status` one of STATUSES; `overdue_on`: pending ones whose reply was
    due before that day."""
    frame = requests_frame(spark, profile)
    if status:
        if status not in STATUSES:
            raise ShareError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        frame = frame[frame["status"] == status]
    if overdue_on is not None:
        frame = frame[(frame["status"] == PENDING) & (pd.to_datetime(frame["reply_due"]).dt.date < overdue_on)]
    return frame.sort_values("requested_at", ascending=False).reset_index(drop=True)


# --------------------------------------------------------------------------- changing


def request(spark: SparkSession, by: str, table: str, purpose: str, until: date,
            columns: list[str] | None = None, cleartext: bool = False, now: datetime | None = None,
            policy: SharingPolicy | None = None, profile: Profile | None = None) -> dict:
    """Record a user's request for a table; approved at once when the class allows it."""
    policy = policy or load_policy()
    now = now or datetime.now(ZONE)
    group = policy.group_of(by)
    if group.role == "admin":
        raise ShareError(f"{by} is an admin and reads every table already")
    if not (purpose or "").strip():
        raise ShareError("say what the data is for (--purpose)")
    if until < now.date():
        raise ShareError(f"until {until} is already past")
    entry = policy.table(table)
    if table not in policy.documented:
        raise ShareError(f"{table} is not a lake table the catalog, libraries or themes document")
    if entry.sharing == "not_shared":
        raise ShareError(f"{table} is not shared (不予共享, the negative list): only its owner "
                         f"{policy.consumer_name(entry.owner)} reads it")
    if group.department == entry.owner:
        raise ShareError(f"{by}'s department owns {table} and reads it in clear already")
    unknown = sorted(set(columns or ()) - set(policy.documented[table]))
    if unknown:
        raise ShareError(f"{table} has no column(s) {', '.join(unknown)}")
    immediate = entry.sharing == "unconditional" and not cleartext
    days = policy.reply_days("unconditional" if immediate else "conditional")
    row = {
        "request_id": f"sr-{now:%Y%m%d}-{uuid.uuid4().hex[:6]}", "requested_by": by,
        "consumer": group.consumer, "consumer_name": policy.consumer_name(group.consumer),
        "table_name": table, "columns": list(columns) if columns else None, "cleartext": bool(cleartext),
        "purpose": purpose.strip(), "until": until, "sharing": entry.sharing, "owner": entry.owner,
        "status": PENDING, "requested_at": now, "reply_due": add_working_days(now.date(), days),
        "answered_by": None, "answered_at": None, "reason": None, "revision": 1,
    }
    _commit(spark, row, None, by, "requested: " + purpose.strip(), profile)
    if immediate:
        return _answer(spark, row, AUTOMATIC, APPROVED, "unconditional (无条件共享): approved at once", now, profile, policy)
    apply_grants(spark, profile, policy, now)
    return row


def approve(spark: SparkSession, request_id: str, by: str, reason: str = "", now: datetime | None = None,
            policy: SharingPolicy | None = None, profile: Profile | None = None) -> dict:
    """The owner approves a pending request; its users read the table within seconds."""
    return _owner_answer(spark, request_id, by, reason, PENDING, APPROVED, now, policy, profile)


def reject(spark: SparkSession, request_id: str, by: str, reason: str, now: datetime | None = None,
           policy: SharingPolicy | None = None, profile: Profile | None = None) -> dict:
    """The owner rejects a pending request, saying why."""
    if not (reason or "").strip():
        raise ShareError("say why the request is rejected (--reason)")
    return _owner_answer(spark, request_id, by, reason, PENDING, REJECTED, now, policy, profile)


def revoke(spark: SparkSession, request_id: str, by: str, reason: str, now: datetime | None = None,
           policy: SharingPolicy | None = None, profile: Profile | None = None) -> dict:
    """The owner revokes an approval; its users lose the table within seconds."""
    if not (reason or "").strip():
        raise ShareError("say why the approval is revoked (--reason)")
    return _owner_answer(spark, request_id, by, reason, APPROVED, REVOKED, now, policy, profile)


def expire(spark: SparkSession, now: datetime | None = None, policy: SharingPolicy | None = None,
           profile: Profile | None = None) -> list[str]:
    """Mark approvals whose day is past as expired and regenerate the rules; their ids."""
    policy = policy or load_policy()
    now = now or datetime.now(ZONE)
    expired = []
    for row in requests_frame(spark, profile).to_dict("records"):
        if row["status"] == APPROVED and _end_of(row["until"]) <= now:
            _answer(spark, row, AUTOMATIC, EXPIRED, f"until {row['until']} has passed", now, profile, policy,
                    regenerate=False)
            expired.append(row["request_id"])
    apply_grants(spark, profile, policy, now)
    return expired


def _owner_answer(spark, request_id, by, reason, expected, to, now, policy, profile) -> dict:
    policy = policy or load_policy()
    now = now or datetime.now(ZONE)
    row = find_request(spark, request_id, profile)
    group = policy.group_of(by)
    may_answer = group.role == "admin" or (
        group.department == row["owner"] and policy.file.roles[group.role].answers_requests)
    if not may_answer:
        raise ShareError(f"{by} may not answer for {policy.consumer_name(row['owner'])}: only its department "
                         "owners (or an admin) answer requests for its tables")
    if row["status"] != expected:
        raise ShareError(f"{request_id} is {row['status']}, not {expected}")
    return _answer(spark, row, by, to, (reason or "").strip() or to, now, profile, policy)


def _answer(spark, row: dict, by: str, to: str, reason: str, now: datetime, profile, policy,
            regenerate: bool = True) -> dict:
    before = row["status"]
    row = dict(row, status=to, answered_by=by, answered_at=now, reason=reason, revision=int(row["revision"]) + 1)
    _commit(spark, row, before, by, reason, profile)
    if regenerate:
        apply_grants(spark, profile, policy, now)
    return row


def _commit(spark: SparkSession, row: dict, before: str | None, by: str, reason: str, profile) -> None:
    """The step into the history, then the request's new state (the table rewritten: it is small)."""
    step = {"request_id": row["request_id"], "revision": row["revision"], "from_status": before,
            "to_status": row["status"], "changed_at": row["answered_at"] or row["requested_at"],
            "changed_by": by, "reason": reason}
    SHARE_REQUEST_HISTORY.write(spark, [_naive(_clean(step))], profile)
    current = [r for r in requests_frame(spark, profile).to_dict("records") if r["request_id"] != row["request_id"]]
    rows = [_naive(_clean(r)) for r in current] + [_naive(_clean(row))]
    SHARE_REQUEST.write(spark, rows, profile)


def _clean(row: dict) -> dict:
    """A row read back through pandas, with its missing values as None and arrays as lists."""
    out = {}
    for key, value in row.items():
        if isinstance(value, float) and pd.isna(value) or value is pd.NaT:
            value = None
        elif hasattr(value, "tolist"):
            value = value.tolist()
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        out[key] = value
    return out


def _naive(row: dict) -> dict:
    """Timestamps in the session's zone (Asia/Shanghai) without tzinfo, as Spark takes them."""
    return {key: value.astimezone(ZONE).replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo
            else value for key, value in row.items()}


def _end_of(day) -> datetime:
    """An approval `until` a day lasts to that day's end in the city's time."""
    day = pd.Timestamp(day).date()
    return datetime.combine(day + timedelta(days=1), time(0), ZONE)


# --------------------------------------------------------------------------- into Trino


def grants_in_force(frame: pd.DataFrame, now: datetime) -> list[Grant]:
    """The approved requests whose day is not past, as grants for the access rules."""
    grants = []
    for row in frame.to_dict("records"):
        row = _clean(row)
        if row["status"] == APPROVED and _end_of(row["until"]) > now:
            grants.append(Grant(request_id=row["request_id"], consumer=row["consumer"], table=row["table_name"],
                                until=_end_of(row["until"]), cleartext=bool(row["cleartext"]),
                                columns=tuple(row["columns"]) if row["columns"] else None))
    return grants


def apply_grants(spark: SparkSession, profile: Profile | None = None, policy: SharingPolicy | None = None,
                 now: datetime | None = None) -> list[Grant]:
    """Write the approvals in force and regenerate Trino's rules from them."""
    from citylake.trino import security

    profile = profile or active_profile()
    now = now or datetime.now(ZONE)
    grants = grants_in_force(requests_frame(spark, profile), now)
    write_grants(profile.path("var"), grants)
    security.refresh(profile, policy, now)
    return grants


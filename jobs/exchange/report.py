"""Reporting to the province (报送): a lake table's package under
`<var>/exchange/report/<resource>/<package id>/`, every send in `lake.ops.exchange_send`, and the
province's receipts (回执) read back from `<var>/exchange/receipts/`.

What can be reported: a catalog resource (`psb.household_registration`: its integrated table, the
current state) or a base or theme table the sharing policy names (`base.population`). The province
is the city's superior authority and receives the standard data items in clear; tables on the
negative list (不予共享) are not reported. The lake's technical `_` columns stay in the lake.

A receipt is a JSON file the province drops into the receipts folder:
    {"package_id": "...", "status": "accepted" | "rejected",
     "counts": {"rows": 1234, "files": 1}, "message": "...", "received_at": "2026-03-05T10:00:00+08:00"}
It is recorded (`ops.exchange_receipt`, and the send's status and receipt) when its package was
sent and its counts are the manifest's; otherwise it is refused with the reason, kept in
`receipts/quarantine/` beside a `.reason.txt`. Read receipts move to `receipts/processed/`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pyspark.sql import SparkSession

from citylake.files import file_digest
from citylake.sharing import SharingPolicy, load_policy
from jobs.exchange import ledger
from jobs.exchange.package import (ExchangeError, PackageTable, Written, current_version, read_manifest,
                                   read_version, verify_package, write_package)
from jobs.exchange.settings import ExchangeSettings, exchange_dir, load_exchange, time_zone

REPORTABLE_LAYERS = ("base", "theme")


@dataclass(frozen=True)
class Sent:
    """A package and its send: `recorded` the new ops.exchange_send row, None when nothing new
    was sent (the same package was sent before)."""

    written: Written
    recorded: dict | None


def resolve_report_table(policy: SharingPolicy, resource: str) -> tuple[str, str]:
    """(lake table, resource name) of what `citylake exchange report <resource>` names."""
    for entry in policy.catalog.resources:
        if resource in (entry.qualified_code, entry.table_name, f"integrated.{entry.table_name}"):
            return f"integrated.{entry.table_name}", entry.qualified_code
    layer = resource.partition(".")[0]
    if layer in REPORTABLE_LAYERS and resource in policy.documented:
        return resource, resource
    raise ExchangeError(f"{resource!r} is neither a catalog resource (department.resource, e.g. "
                        f"psb.household_registration) nor a base or theme table of the sharing policy")


def report(spark: SparkSession, resource: str, resend: bool = False, policy: SharingPolicy | None = None,
           settings: ExchangeSettings | None = None) -> Sent:
    """The province's package of a resource's current version, sent once per version (again with
    `resend`)."""
    policy, settings = policy or load_policy(), settings or load_exchange()
    table, name = resolve_report_table(policy, resource)
    entry = policy.table(table)
    if entry.sharing == "not_shared":
        raise ExchangeError(f"{table} is on the negative list (不予共享): it is not reported")
    source = current_version(spark, table)
    target = settings.province.code
    recorded = ledger.sends(spark)
    earlier = ledger.last_send(spark, "report", target, [source.label], recorded)
    if earlier and not resend and not verify_package(Path(earlier["path"])):
        # the same version was sent and its package is intact: nothing to read or write
        folder = Path(earlier["path"])
        return Sent(Written(earlier["package_id"], folder, read_manifest(folder), new=False), None)
    header = {"kind": "report", "resource": name, "table": table,
              "owner": {"code": entry.owner, "name": policy.consumer_name(entry.owner)},
              "sender": {"code": policy.platform.code, "name": policy.platform.name},
              "target": settings.province.model_dump()}
    stem = table.partition(".")[2]
    written = write_package(exchange_dir() / "report" / name, f"{stem}-v{source.version}", header,
                            [PackageTable(source, read_version(spark, source), stem)],
                            settings.rows_per_file, time_zone())
    already = [row for row in recorded if row["package_id"] == written.package_id]
    if already and not resend:
        return Sent(written, None)
    return Sent(written, ledger.record_send(spark, written, "report", target, name, resend=bool(already)))


# --------------------------------------------------------------------------- receipts


class Counts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: int = Field(ge=0)
    files: int = Field(ge=0)


class Receipt(BaseModel):
    """A receipt (回执) as the province returns it."""

    model_config = ConfigDict(extra="forbid")
    package_id: str = Field(min_length=1)
    status: Literal["accepted", "rejected"]
    counts: Counts
    message: str = ""
    received_at: datetime | None = None


@dataclass(frozen=True)
class ReceiptOutcome:
    """What became of one receipt file: recorded, refused (with the reason) or already recorded."""

    file: str
    package_id: str | None
    outcome: str
    reason: str = ""


def receipts_dir() -> Path:
    return exchange_dir() / "receipts"


def read_receipts(spark: SparkSession) -> list[ReceiptOutcome]:
    """Every receipt file waiting in the receipts folder, checked against its package and recorded
    or refused (one commit for all); each file then moves out of the way (processed/ or quarantine/)."""
    folder = receipts_dir()
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not paths:
        return []
    seen, sent = ledger.receipts_seen(spark), ledger.sends(spark)
    outcomes, rows, texts = [], [], {}
    for path in paths:
        digest = file_digest(path)
        if digest in seen:
            outcomes.append(ReceiptOutcome(path.name, None, "already recorded"))
            continue
        seen.add(digest)
        row = check_receipt(path, digest, sent)
        rows.append(row)
        texts[path.name] = path.read_text(encoding="utf-8")
        answer = "accepted" if row["accepted"] else "rejected"
        outcome = row["outcome"] if row["outcome"] == ledger.REFUSED else f"{ledger.RECORDED} ({answer})"
        outcomes.append(ReceiptOutcome(path.name, row["package_id"], outcome, row["reason"] or ""))
    ledger.record_receipts(spark, rows, texts)
    for path, outcome in zip(paths, outcomes):
        _move(path, "quarantine" if outcome.outcome == ledger.REFUSED else "processed", outcome.reason)
    return outcomes


def check_receipt(path: Path, digest: str, sent: list[dict]) -> dict:
    """The ops.exchange_receipt row of a receipt file: recorded, or refused with the reason."""
    receipt, reason = _parse(path)
    if receipt is not None:
        reason = _disagreement(receipt, [row for row in sent if row["package_id"] == receipt.package_id])
    return {"receipt_file": path.name, "sha256": digest, "package_id": receipt.package_id if receipt else None,
            "outcome": ledger.REFUSED if reason else ledger.RECORDED,
            "accepted": receipt.status == "accepted" if receipt else None,
            "rows": receipt.counts.rows if receipt else None, "message": receipt.message if receipt else None,
            "reason": reason or None, "read_at": datetime.now(timezone.utc)}


def _parse(path: Path) -> tuple[Receipt | None, str]:
    try:
        return Receipt.model_validate_json(path.read_bytes()), ""
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in item['loc']) or 'receipt'}: {item['msg']}"
                             for item in error.errors())
        return None, f"not a receipt: {problems}"


def _disagreement(receipt: Receipt, sent: list[dict]) -> str:
    """Why a well-formed receipt of a package sent as `sent` cannot be recorded ('' when it can)."""
    if not sent:
        return f"unknown package {receipt.package_id!r}: no package of that id was sent"
    manifest = read_manifest(Path(sent[-1]["path"]))
    files = sum(len(table["files"]) for table in manifest["tables"])
    if receipt.counts.rows != manifest["rows"] or receipt.counts.files != files:
        return (f"counts disagree with the manifest of {receipt.package_id}: the receipt says "
                f"{receipt.counts.rows} rows in {receipt.counts.files} files, the package has "
                f"{manifest['rows']} rows in {files} files")
    return ""


def _move(path: Path, where: str, reason: str = "") -> None:
    target = path.parent / where
    target.mkdir(parents=True, exist_ok=True)
    if reason:
        (target / f"{path.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    shutil.move(str(path), target / path.name)


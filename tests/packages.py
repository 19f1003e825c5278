"""Building delivery packages for tests, exactly as the delivery contract describes them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

PSB_HEADER = ["GMSFHM", "XM", "XB", "MZ", "CSRQ", "HJDZ_XZQH", "HJDZ", "HH", "YHZGX", "RYZT", "BGSJ"]


def psb_rows(count: int, start: int = 0) -> list[list[str]]:
    """Household registration rows with valid ID numbers (GB 11643 check digit)."""
    from stdnum.cn import ric

    rows = []
    for i in range(start, start + count):
        body = f"350502{1986 + i % 20:04d}{1 + i % 12:02d}{1 + i % 28:02d}{1 + i % 999:03d}"
        rows.append([body + ric.calc_check_digit(body + "0"),  # stdnum expects a place for the check digit
                     f"测试{i}", "1" if i % 2 else "2", "01",
                     f"{1986 + i % 20}-{1 + i % 12:02d}-{1 + i % 28:02d}", "350502", f"鲤城区某路{i}号",
                     f"H{i // 3:06d}", "01", "0", "2026-01-01 08:00:00"])
    return rows


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str = "gbk", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def header_only_csv(header: list[str], encoding: str = "gbk", *, final_newline: bool = True) -> bytes:
    """A CSV file of no rows: the header line, with or without the line break after it."""
    content = csv_bytes(header, [], encoding)
    return content if final_newline else content.removesuffix(b"\r\n")


def jsonl_bytes(rows: list[dict[str, str]], encoding: str = "utf-8") -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode(encoding)


def xlsx_bytes(header: list[str], rows: list[list[str]], sheet: str = "Sheet1") -> bytes:
    """A workbook of one sheet: the header row, then the rows."""
    from openpyxl import Workbook

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    for row in [header, *rows]:
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_package(
    inbox: Path,
    department: str,
    resource: str,
    sequence: int,
    files: dict[str, bytes],
    *,
    rows: dict[str, int],
    mode: str = "full",
    fmt: str = "csv",
    encoding: str | None = "gbk",
    batch_id: str | None = None,
    manifest_overrides: dict | None = None,
) -> Path:
    """Write the files, then the manifest last (as departments must), and return the package folder."""
    batch_id = batch_id or f"{department}-{resource}-{sequence:05d}"
    folder = inbox / department / resource / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, content in files.items():
        (folder / name).write_bytes(content)
        entries.append({"name": name, "rows": rows[name], "sha256": hashlib.sha256(content).hexdigest()})
    manifest = {"department": department, "resource": resource, "batch_id": batch_id, "sequence": sequence,
                "mode": mode, "extracted_at": "2026-01-01T02:00:00+08:00", "format": fmt, "files": entries}
    if encoding:
        manifest["encoding"] = encoding
    manifest.update(manifest_overrides or {})
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return folder

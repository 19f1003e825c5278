"""Fuzzed delivery packages: each one breaks the delivery contract (or strains it) in one way, with
the outcome the contract documents for it and the words its ledger reason must hold.

Packages are tiny and built by hand on top of `tests.packages`: household registration (CSV in
GBK), social insurance (JSON lines in UTF-8) and the enterprise register (a workbook).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.packages import PSB_HEADER, csv_bytes, jsonl_bytes, psb_rows, write_package, xlsx_bytes

PSB = ("psb", "household_registration")
HRSS = ("hrss", "social_insurance")
AMR = ("amr", "enterprise_registration")
AMR_SHEET = "企业登记"
AMR_HEADER = ["uscc", "ent_name", "legal_rep_name", "legal_rep_id", "industry_code", "reg_capital", "est_date",
              "status", "reg_district", "address", "updated_at"]
BASE_ROWS = 25  # every landing case keeps the base delivery's keys, so no full extract trips the delete guard
HUGE_FIELD = 50 << 20

# landed: every row lands; quarantined: the batch lands, some rows go to quarantine; rejected and
# held: nothing of the batch is written
OUTCOMES = ("landed", "quarantined", "rejected", "held")


@dataclass(frozen=True)
class Fuzz:
    """One fuzzed package: `build(inbox, sequence, batch_id)` writes it and returns its folder."""

    name: str
    resource: tuple[str, str]
    build: Callable[[Path, int, str], Path]
    outcome: str
    reason: str  # a regular expression the ledger's reason matches ("" for a clean landing)


def psb_package(inbox: Path, sequence: int, batch_id: str, content: bytes, *, rows: int = BASE_ROWS,
                mode: str = "full", **manifest: object) -> Path:
    return write_package(inbox, *PSB, sequence, {"a.csv": content}, rows={"a.csv": rows}, mode=mode,
                         batch_id=batch_id, manifest_overrides=manifest or None)


def base_csv(encoding: str = "gbk") -> bytes:
    return csv_bytes(PSB_HEADER, psb_rows(BASE_ROWS), encoding)


def hrss_rows(count: int = BASE_ROWS) -> list[dict[str, str]]:
    return [{"身份证号": row[0], "姓名": row[1], "单位统一社会信用代码": "91350502MA2Y000000", "单位名称": "某公司",
             "险种": "110", "参保状态": "1", "缴费基数": "5000.00", "参保日期": "2020-01-01",
             "更新时间": "2026-01-01 08:00:00"} for row in psb_rows(count)]


def hrss_package(inbox: Path, sequence: int, batch_id: str, content: bytes, *, rows: int = BASE_ROWS,
                 **manifest: object) -> Path:
    return write_package(inbox, *HRSS, sequence, {"a.jsonl": content}, rows={"a.jsonl": rows}, fmt="jsonl",
                         encoding="utf-8", batch_id=batch_id, manifest_overrides=manifest or None)


def amr_package(inbox: Path, sequence: int, batch_id: str, content: bytes, *, rows: int = 1) -> Path:
    return write_package(inbox, *AMR, sequence, {"a.xlsx": content}, rows={"a.xlsx": rows}, fmt="xlsx",
                         encoding=None, batch_id=batch_id, manifest_overrides={"sheet": AMR_SHEET})


def amr_workbook(header: list[str] = AMR_HEADER) -> bytes:
    row = ["91350502MA2Y000000", "某公司", "张三", psb_rows(1)[0][0], "C13", "100", "2020-01-01", "存续",
           "350502", "鲤城区某路1号", "2026-01-01 08:00:00"]
    return xlsx_bytes(header, [row[:len(header)]], sheet=AMR_SHEET)


def rewrite_sheet(workbook: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    """The workbook with its sheet's XML part edited (the other parts as they were)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for part in source.infolist():
            data = source.read(part)
            target.writestr(part.filename, edit(data) if part.filename == "xl/worksheets/sheet1.xml" else data)
    return out.getvalue()


def zip_bomb(workbook: bytes) -> bytes:
    """64 MB of whitespace inside the sheet's XML (valid XML), deflated about a thousandfold."""
    return rewrite_sheet(workbook, lambda xml: xml.replace(b"</sheetData>", b" " * (64 << 20) + b"</sheetData>"))


def billion_laughs(workbook: bytes) -> bytes:
    """The sheet's XML declaring nested entities that expand to 10^9 'lol's."""
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol%s;" % (n - 1 if n > 1 else "")) * 10}">' for n in range(1, 10))
    doctype = f"<!DOCTYPE worksheet [{entities}]>".encode()

    def edit(xml: bytes) -> bytes:
        declaration_end = xml.index(b"?>") + 2 if xml.startswith(b"<?xml") else 0
        return xml[:declaration_end] + doctype + xml[declaration_end:].replace(b"<v>", b"<v>&lol9;", 1)

    return rewrite_sheet(workbook, edit)


def with_manifest(folder: Path, text: str | bytes) -> Path:
    """The package's manifest replaced by this text (written last, as departments must)."""
    path = folder / "manifest.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return folder


def edit_manifest(folder: Path, edit: Callable[[dict], None]) -> Path:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    edit(manifest)
    return with_manifest(folder, json.dumps(manifest, ensure_ascii=False))


def forget(spark, resource: tuple[str, str]) -> None:
    """The resource as if nothing had ever been delivered: no raw table, ledger or quarantine rows."""
    from pyspark.sql import functions as F

    from citylake import lake

    shutil.rmtree(lake.table_folder(f"raw.{resource[0]}_{resource[1]}"), ignore_errors=True)
    for name in ("ops.batch_ledger", "ops.quarantine"):
        if lake.table_exists(spark, name):
            lake.delta_table(spark, name).delete((F.col("department") == resource[0])
                                                 & (F.col("resource") == resource[1]))


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# ------------------------------------------------------------------ the cases


def _psb_clean(content: Callable[[], bytes], rows: int = BASE_ROWS, **manifest: object):
    return lambda inbox, sequence, batch_id: psb_package(inbox, sequence, batch_id, content(), rows=rows, **manifest)


def _psb_manifest(edit: Callable[[dict], None]):
    def build(inbox, sequence, batch_id):
        return edit_manifest(psb_package(inbox, sequence, batch_id, base_csv()), edit)
    return build


def _psb_manifest_text(text: str | bytes):
    def build(inbox, sequence, batch_id):
        return with_manifest(psb_package(inbox, sequence, batch_id, base_csv()), text)
    return build


def _truncated_in_transit(inbox, sequence, batch_id):
    folder = psb_package(inbox, sequence, batch_id, base_csv())
    content = (folder / "a.csv").read_bytes()
    (folder / "a.csv").write_bytes(content[: len(content) // 2])  # after the manifest was written
    return folder


def _cut_mid_row() -> bytes:
    content = base_csv()
    return content[: content.rindex(b",", 0, len(content) - 40)]  # the last row loses its last fields


def _cut_at_line() -> bytes:
    content = base_csv()
    return content[: content.rindex(b"\r\n", 0, len(content) - 2) + 2]  # the last row gone entirely


def _cut_mid_character() -> bytes:
    content = base_csv()
    last_name = content.rindex("测试".encode("gbk"))
    return content[: last_name + 1]  # half of a two-byte GBK character


def _symlink_out(inbox, sequence, batch_id):
    """A data file that is a link to /etc/passwd, the manifest holding the target's true SHA-256."""
    target = Path("/etc/passwd")
    folder = psb_package(inbox, sequence, batch_id, base_csv())
    (folder / "a.csv").unlink()
    os.symlink(target, folder / "a.csv")
    return edit_manifest(folder, lambda m: m["files"][0].update(sha256=_sha(target.read_bytes())))


def _listed_twice(manifest: dict) -> None:
    manifest["files"] = manifest["files"] * 2


def _other_resource(manifest: dict) -> None:
    manifest["resource"] = "residence_permit"  # CSV in GBK too: it would land in the other resource's table


def _unknown_resource(inbox, sequence, batch_id):
    folder = write_package(inbox, "psb", "no_such_register", sequence, {"a.csv": base_csv()},
                           rows={"a.csv": BASE_ROWS}, batch_id=batch_id)
    return folder


def _file_name(name: str):
    return _psb_manifest(lambda manifest: manifest["files"][0].update(name=name))


def _psb_with_cells(edit: Callable[[list[list[str]]], None], header: list[str] = PSB_HEADER,
                    encoding: str = "gbk") -> Callable[[], bytes]:
    def content() -> bytes:
        rows = psb_rows(BASE_ROWS)
        edit(rows)
        return csv_bytes(header, rows, encoding)
    return content


def _huge_cell(rows: list[list[str]]) -> None:
    rows[3][6] = "路" * (HUGE_FIELD // 2)  # 2 bytes a character in GBK


def _extra_field(rows: list[list[str]]) -> None:
    rows[4].append("多余")


def _many_ragged(rows: list[list[str]]) -> None:
    for row in rows[:5]:
        del row[-3:]


def _drift(rows: list[list[str]]) -> None:
    for row in rows:
        row.append("新列值")


def _hrss(content: Callable[[], bytes], rows: int = BASE_ROWS):
    return lambda inbox, sequence, batch_id: hrss_package(inbox, sequence, batch_id, content(), rows=rows)


def _hrss_duplicated_key() -> bytes:
    lines = jsonl_bytes(hrss_rows()).decode("utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace('"姓名": ', '"姓名": "甲", "姓名": ', 1)
    return "".join(lines).encode("utf-8")


def _hrss_huge_field() -> bytes:
    rows = hrss_rows()
    rows[0]["单位名称"] = "某" * (HUGE_FIELD // 3)  # 3 bytes a character in UTF-8
    return jsonl_bytes(rows)


def _amr(content: Callable[[], bytes], rows: int = 1):
    return lambda inbox, sequence, batch_id: amr_package(inbox, sequence, batch_id, content(), rows=rows)


PSB_HEADER_DRIFT = [*PSB_HEADER, "XZD"]

CASES = [
    # files
    Fuzz("empty file", PSB, _psb_clean(lambda: b"", rows=0), "rejected", r"empty \(0 bytes\)"),
    Fuzz("header only, full extract", PSB, _psb_clean(lambda: csv_bytes(PSB_HEADER, []), rows=0), "held",
         r"would delete 25 of 25 current keys"),
    Fuzz("header only, incremental", PSB,
         _psb_clean(lambda: csv_bytes([*PSB_HEADER, "CZLX"], []), rows=0, mode="incremental"), "landed", ""),
    Fuzz("truncated in transit", PSB, _truncated_in_transit, "rejected", r"a\.csv: sha256 \w+ differs"),
    Fuzz("truncated at a line by the source", PSB, _psb_clean(_cut_at_line), "rejected",
         r"a\.csv: 24 data rows, the manifest says 25"),
    Fuzz("truncated mid-row by the source", PSB, _psb_clean(_cut_mid_row), "quarantined",
         r"expected 11 fields, found \d+"),
    Fuzz("truncated mid-character", PSB, _psb_clean(_cut_mid_character), "rejected",
         r"a\.csv: not gbk text as the manifest declares: .*incomplete multibyte"),
    Fuzz("GBK declared as UTF-8", PSB, _psb_clean(base_csv, encoding="utf-8"), "rejected",
         r"a\.csv: not utf-8 text as the manifest declares"),
    Fuzz("UTF-8 declared as GBK", PSB, _psb_clean(lambda: base_csv("utf-8")), "rejected",
         r"the manifest says gbk, but the file is UTF-8 text"),
    Fuzz("duplicated header", PSB, _psb_clean(_psb_with_cells(lambda rows: None, [*PSB_HEADER[:-1], "XM"])),
         "rejected", r"duplicated column names"),
    Fuzz("blank column name", PSB, _psb_clean(_psb_with_cells(_drift, [*PSB_HEADER, ""])), "rejected",
         r"a column without a name"),
    Fuzz("column named like an origin column", PSB, _psb_clean(_psb_with_cells(_drift, [*PSB_HEADER, "_batch_id"])),
         "rejected", r"_batch_id clash with the lake's origin columns"),
    Fuzz("catalog column missing", PSB,
         _psb_clean(lambda: csv_bytes(PSB_HEADER[:-1], [row[:-1] for row in psb_rows(BASE_ROWS)])), "rejected",
         r"catalog column\(s\) missing from the file: BGSJ"),
    Fuzz("a new column (drift)", PSB, _psb_clean(_psb_with_cells(_drift, PSB_HEADER_DRIFT)), "landed", ""),
    Fuzz("one row with a field too many", PSB, _psb_clean(_psb_with_cells(_extra_field)), "quarantined",
         r"expected 11 fields, found 12"),
    Fuzz("unparseable rows over the limit", PSB, _psb_clean(_psb_with_cells(_many_ragged)), "rejected",
         r"5 of 25 rows unparseable .* over the resource's quarantine limit"),
    Fuzz("a 50 MB cell in a CSV", PSB, _psb_clean(_psb_with_cells(_huge_cell)), "rejected",
         r"a row longer than 32 MB"),
    Fuzz("row count differs", PSB, _psb_clean(base_csv, rows=26), "rejected", r"25 data rows, the manifest says 26"),
    # manifests
    Fuzz("manifest not JSON", PSB, _psb_manifest_text(b"\x00\xff garbage {"), "rejected", r"manifest unreadable"),
    Fuzz("manifest in YAML", PSB, _psb_manifest_text("department: psb\nresource: household_registration\n"),
         "rejected", r"manifest unreadable"),
    Fuzz("manifest empty", PSB, _psb_manifest_text(b""), "rejected", r"manifest unreadable"),
    Fuzz("manifest a JSON array", PSB, _psb_manifest_text("[1, 2]"), "rejected", r"manifest invalid"),
    Fuzz("manifest nested 100,000 deep", PSB, _psb_manifest_text("[" * 100_000 + "]" * 100_000), "rejected",
         r"manifest unreadable: JSON nested too deep"),
    Fuzz("manifest without sequence and files", PSB,
         _psb_manifest(lambda m: (m.pop("sequence"), m.pop("files"))), "rejected",
         r"manifest invalid: sequence: Field required; files: Field required"),
    Fuzz("manifest sequence a word", PSB, _psb_manifest(lambda m: m.update(sequence="first")), "rejected",
         r"manifest invalid: sequence: Input should be a valid integer"),
    Fuzz("manifest rows negative", PSB, _psb_manifest(lambda m: m["files"][0].update(rows=-1)), "rejected",
         r"manifest invalid: files\.0\.rows"),
    Fuzz("manifest time without offset", PSB, _psb_manifest(lambda m: m.update(extracted_at="2026-01-01T02:00:00")),
         "rejected", r"manifest invalid: extracted_at"),
    Fuzz("manifest encoding unknown", PSB, _psb_manifest(lambda m: m.update(encoding="latin-1")), "rejected",
         r"manifest invalid: encoding"),
    Fuzz("manifest unknown key", PSB, _psb_manifest(lambda m: m.update(owner="root")), "rejected",
         r"manifest invalid: owner: Extra inputs are not permitted"),
    Fuzz("manifest sha256 differs", PSB, _psb_manifest(lambda m: m["files"][0].update(sha256="0" * 64)), "rejected",
         r"a\.csv: sha256 \w+ differs from the manifest's 0{64}"),
    Fuzz("manifest lists a missing file", PSB, _file_name("b.csv"), "rejected", r"file b\.csv: missing"),
    Fuzz("manifest lists a file twice", PSB, _psb_manifest(_listed_twice), "rejected",
         r"file\(s\) listed more than once: a\.csv"),
    Fuzz("manifest of another resource", PSB, _psb_manifest(_other_resource), "rejected",
         r"manifest names psb/residence_permit, but the package is under psb/household_registration/"),
    Fuzz("manifest of an unknown resource", ("psb", "no_such_register"), _unknown_resource, "rejected",
         r"unknown resource psb\.no_such_register"),
    # hostile manifests
    Fuzz("path outside the package", PSB, _file_name("../../etc/passwd"), "rejected",
         r"manifest invalid: files\.0\.name: String should match pattern"),
    Fuzz("absolute path", PSB, _file_name("/etc/passwd"), "rejected",
         r"manifest invalid: files\.0\.name: String should match pattern"),
    Fuzz("the package's parent as a file", PSB, _file_name(".."), "rejected", r"file \.\.: missing"),
    Fuzz("a NUL in a file name", PSB, _file_name("a.csv\u0000.txt"), "rejected", r"missing"),
    Fuzz("a data file linking outside", PSB, _symlink_out, "rejected", r"a\.csv: a link to /etc/passwd, outside"),
    # JSON lines
    Fuzz("JSON lines, clean", HRSS, _hrss(lambda: jsonl_bytes(hrss_rows())), "landed", ""),
    Fuzz("JSON lines, a key given twice", HRSS, _hrss(_hrss_duplicated_key), "quarantined", r"key 姓名 given twice"),
    Fuzz("JSON lines, a 50 MB field", HRSS, _hrss(_hrss_huge_field), "landed", ""),
    Fuzz("JSON lines in GBK declared UTF-8", HRSS, _hrss(lambda: jsonl_bytes(hrss_rows(), "gbk")), "rejected",
         r"a\.jsonl: not utf-8 text as the manifest declares"),
    # workbooks
    Fuzz("workbook zip bomb", AMR, _amr(lambda: zip_bomb(amr_workbook())), "rejected",
         r"part xl/worksheets/sheet1\.xml inflates .* a decompression bomb"),
    Fuzz("workbook entity bomb", AMR, _amr(lambda: billion_laughs(amr_workbook())), "rejected",
         r"a\.xlsx: unreadable: .*EntitiesForbidden"),
    Fuzz("workbook truncated", AMR, _amr(lambda: amr_workbook()[:2000]), "rejected",
         r"a\.xlsx: unreadable: File is not a zip file"),
    Fuzz("workbook duplicated header", AMR, _amr(lambda: amr_workbook([*AMR_HEADER[:-1], "uscc"])), "rejected",
         r"duplicated column names"),
    Fuzz("workbook empty", AMR, _amr(lambda: b"", rows=0), "rejected", r"empty \(0 bytes\)"),
]

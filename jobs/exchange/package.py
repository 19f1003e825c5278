"""Exchange packages: a folder of CSV files and a `manifest.json` saying what they hold.

The format, the same for every exchange (报送, 回流, 开放):
- CSV, UTF-8 without a byte-order mark, comma-separated, RFC 4180 quoting (a value with a comma,
  quote or line break in double quotes, quotes doubled), CRLF line ends, one header row of the
  column names; NULL is an empty field;
- values as Spark SQL casts them to text: dates `2026-03-05`, timestamps `2026-03-05 08:30:00` in
  the manifest's time zone, decimals exact, booleans `true`/`false`; arrays, maps and structs as JSON;
- rows sorted by every column, so one table version always gives byte-identical files; a table of
  more rows than the manifest's `rows_per_file` is split into `<stem>-00001.csv`, `-00002.csv` ...
- the manifest lists each table with its Delta version and commit time (as-of), its columns with
  their types, its rows, and each file's rows, bytes and sha256.

The package id is made from the manifest's content (tables, versions, files' checksums): the same
table version gives the same id, so a package already written is recognised and not sent again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import lake
from citylake.files import file_digest

MANIFEST = "manifest.json"
FORMAT = {"type": "csv", "encoding": "utf-8", "delimiter": ",", "quoting": "RFC 4180", "line_end": "CRLF",
          "header": True, "null": "empty field"}


class ExchangeError(ValueError):
    """An exchange the policy or the lake does not allow or cannot make; the message says why."""


@dataclass(frozen=True)
class TableVersion:
    """One lake table at one Delta version, with the time that version was committed."""

    name: str
    version: int
    committed_at: datetime

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class PackageTable:
    """One table of a package: the version read, the rows and columns as sent, and what was done to
    them on the way (masks, row filter, columns removed), for the manifest."""

    source: TableVersion
    frame: DataFrame
    stem: str
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Written:
    """A package on disk: its id, folder and manifest; `new`: written now (not there before)."""

    package_id: str
    folder: Path
    manifest: dict[str, Any]
    new: bool

    @property
    def rows(self) -> int:
        return int(self.manifest["rows"])

    @property
    def checksum(self) -> str:
        return file_digest(self.folder / MANIFEST)


def current_version(spark: SparkSession, name: str) -> TableVersion:
    """The table's latest version and its commit time; a clear error when the table is missing."""
    if not lake.table_exists(spark, name):
        raise ExchangeError(f"lake table {name} does not exist yet (build it first)")
    row = lake.delta_table(spark, name).history(1).select("version", "timestamp").first()
    committed = row["timestamp"]
    committed = committed.replace(tzinfo=timezone.utc) if committed.tzinfo is None else committed
    return TableVersion(name, int(row["version"]), committed.astimezone(timezone.utc))


def read_version(spark: SparkSession, source: TableVersion) -> DataFrame:
    """The rows of exactly that version (time travel), without the lake's technical `_` columns."""
    frame = spark.read.format("delta").option("versionAsOf", source.version).load(lake.table_uri(source.name))
    return frame.select([column for column in frame.columns if not column.startswith("_")])


def as_text(frame: DataFrame) -> DataFrame:
    """Every column as the text a file holds (complex types as JSON), rows sorted by every column."""
    columns = [F.to_json(F.col(f"`{f.name}`")).alias(f.name)
               if isinstance(f.dataType, (T.ArrayType, T.MapType, T.StructType))
               else F.col(f"`{f.name}`").cast("string").alias(f.name) for f in frame.schema.fields]
    text = frame.select(columns)
    return text.orderBy(*[F.col(f"`{name}`").asc_nulls_first() for name in text.columns])


def column_types(frame: DataFrame) -> list[dict[str, str]]:
    return [{"name": f.name, "type": f.dataType.simpleString()} for f in frame.schema.fields]


def write_csv_files(frame: DataFrame, folder: Path, stem: str, rows_per_file: int) -> list[dict[str, Any]]:
    """The frame's rows as CSV files of at most `rows_per_file` rows (one file, header only, when
    it has none); each file's name, rows, bytes and sha256."""
    header = frame.columns
    files: list[dict[str, Any]] = []
    out, writer, count = None, None, 0

    def close() -> None:
        if out is not None:
            out.close()
            path = folder / files[-1]["name"]
            files[-1].update(rows=count, bytes=path.stat().st_size, sha256=file_digest(path))

    for row in frame.toLocalIterator(prefetchPartitions=True):
        if out is None or count >= rows_per_file:
            close()
            files.append({"name": f"{stem}-{len(files) + 1:05d}.csv"})
            out = (folder / files[-1]["name"]).open("w", encoding="utf-8", newline="")
            writer, count = csv.writer(out, lineterminator="\r\n"), 0
            writer.writerow(header)
        writer.writerow(["" if value is None else value for value in row])
        count += 1
    if out is None:  # no rows: still a file with the header, so the columns are there
        files.append({"name": f"{stem}-00001.csv"})
        out = (folder / files[-1]["name"]).open("w", encoding="utf-8", newline="")
        csv.writer(out, lineterminator="\r\n").writerow(header)
    close()
    return files


def package_id(prefix: str, manifest: dict[str, Any]) -> str:
    """`<prefix>-<12 hex>`: the hex from the manifest's content, the id itself left out."""
    body = {key: value for key, value in manifest.items() if key != "package_id"}
    digest = hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return f"{prefix}-{digest[:12]}"


def write_package(root: Path, prefix: str, header: dict[str, Any], tables: list[PackageTable],
                  rows_per_file: int, time_zone: str) -> Written:
    """The package under `root/<package id>/`: written unless the same package is already there."""
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".partial-{uuid.uuid4().hex}"
    partial.mkdir()
    try:
        entries = []
        for table in tables:
            text = as_text(table.frame)
            files = write_csv_files(text, partial, table.stem, rows_per_file)
            entries.append({"table": table.source.name, "version": table.source.version,
                            "as_of": table.source.committed_at.isoformat(), "rows": sum(f["rows"] for f in files),
                            "columns": column_types(table.frame), **table.notes, "files": files})
        manifest = {**header, "as_of": max((t.source.committed_at for t in tables), default=None),
                    "rows": sum(entry["rows"] for entry in entries),
                    "format": FORMAT | {"time_zone": time_zone, "rows_per_file": rows_per_file},
                    "tables": entries}
        manifest["as_of"] = manifest["as_of"].isoformat() if manifest["as_of"] else None
        manifest = {"package_id": package_id(prefix, manifest), **manifest}
        folder = root / manifest["package_id"]
        if folder.is_dir() and not verify_package(folder):
            return Written(manifest["package_id"], folder, read_manifest(folder), new=False)
        (partial / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # a damaged copy of the same package
        partial.rename(folder)
        return Written(manifest["package_id"], folder, manifest, new=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ExchangeError(f"{folder}: no readable {MANIFEST} ({error})") from None


def verify_package(folder: Path) -> list[str]:
    """What is wrong with a package on disk compared with its manifest (nothing: an empty list):
    files missing or changed, rows or header columns that disagree."""
    try:
        manifest = read_manifest(folder)
    except ExchangeError as error:
        return [str(error)]
    problems = []
    for table in manifest.get("tables", []):
        names = [column["name"] for column in table["columns"]]
        for entry in table["files"]:
            path = folder / entry["name"]
            if not path.is_file():
                problems.append(f"{entry['name']}: missing")
            elif file_digest(path) != entry["sha256"]:
                problems.append(f"{entry['name']}: sha256 differs from the manifest's")
            else:
                with path.open(encoding="utf-8", newline="") as handle:
                    reader = csv.reader(handle)
                    header = next(reader, [])
                    rows = sum(1 for _ in reader)
                if header != names:
                    problems.append(f"{entry['name']}: header {header} is not the manifest's columns {names}")
                if rows != entry["rows"]:
                    problems.append(f"{entry['name']}: {rows} rows, the manifest says {entry['rows']}")
    return problems

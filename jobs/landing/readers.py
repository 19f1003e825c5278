"""Reading a delivered file (CSV, JSON lines, Excel) as Arrow record batches of strings.

The source-aligned layer keeps values exactly as delivered, so every column is read as text.
Each row gets `_record`, its 1-based record number in the file (header excluded); a row that
cannot be parsed is kept aside with its number and text, for the quarantine.

A CSV or Excel file holds at least its header row: with nothing after it, it is a valid delivery
of no rows whose `header` still names the columns; a file of 0 bytes is `EmptyFile`. A JSON lines
file names its columns in its rows only, so an empty one is simply a file of no rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

RECORD = "_record"
BATCH_ROWS = 200_000


class EmptyFile(ValueError):
    """A CSV or Excel file of 0 bytes: not even the header row a delivery of no rows still has."""


@dataclass
class BadRow:
    record: int
    text: str
    reason: str


@dataclass
class FileReader:
    """Streams one file's rows; `header` is known once the first batch is read."""

    path: Path
    format: str
    encoding: str | None
    delimiter: str = ","
    sheet: str | None = None
    # Exact record numbers of unparseable CSV rows need pyarrow's single-threaded parser; files
    # are read multi-threaded first and again this way only when a row does not parse.
    exact_record_numbers: bool = False
    header: list[str] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    rows_parsed: int = 0

    def batches(self) -> Iterator[pa.RecordBatch]:
        readers = {"csv": self._csv, "jsonl": self._jsonl, "xlsx": self._xlsx}
        return readers[self.format]()

    # CSV -----------------------------------------------------------------------------------
    def _csv(self) -> Iterator[pa.RecordBatch]:
        _require_bytes(self.path)
        self.header, rows_follow = _csv_header(self.path, self.encoding or "utf-8", self.delimiter)
        _require_header(self.path, self.header)
        if len(set(self.header)) != len(self.header):
            raise ValueError(f"{self.path.name}: duplicated column names in the header {self.header}")
        if not rows_follow:
            return  # pyarrow cannot read a header without the line break after it
        invalid: list[int] = []

        def skip_invalid(row: pacsv.InvalidRow) -> str:
            record = row.number - 1  # pyarrow counts the header as record 1
            invalid.append(record)
            self.bad_rows.append(BadRow(record, row.text or "", f"expected {row.expected_columns} fields, "
                                                                   f"found {row.actual_columns}"))
            return "skip"

        exact = self.exact_record_numbers
        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(encoding=_arrow_encoding(self.encoding), use_threads=not exact,
                                           block_size=32 << 20),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                             invalid_row_handler=skip_invalid if exact else None),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in self.header},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        numbering = _RecordNumbers(invalid)
        for batch in reader:
            yield batch.append_column(RECORD, numbering.take(batch.num_rows))

    # JSON lines ----------------------------------------------------------------------------
    def _jsonl(self) -> Iterator[pa.RecordBatch]:
        rows: list[dict[str, str | None]] = []
        records: list[int] = []
        with self.path.open(encoding=self.encoding or "utf-8", newline="") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                parsed = _json_object(line)
                if isinstance(parsed, str):
                    self.bad_rows.append(BadRow(number, line.rstrip("\r\n"), parsed))
                    continue
                for key in parsed:
                    if key not in self.header:
                        self.header.append(key)
                rows.append({key: _as_text(value) for key, value in parsed.items()})
                records.append(number)
                if len(rows) >= BATCH_ROWS:
                    yield self._batch(rows, records)
                    rows, records = [], []
        if rows:
            yield self._batch(rows, records)

    # Excel ---------------------------------------------------------------------------------
    def _xlsx(self) -> Iterator[pa.RecordBatch]:
        from openpyxl import load_workbook

        _require_bytes(self.path)
        workbook = load_workbook(self.path, read_only=True, data_only=True)
        try:
            sheet = workbook[self.sheet] if self.sheet else workbook.worksheets[0]
        except KeyError:
            workbook.close()
            raise ValueError(f"{self.path.name}: no sheet named {self.sheet!r}") from None
        rows: list[dict[str, str | None]] = []
        records: list[int] = []
        try:
            values = sheet.iter_rows(values_only=True)
            self.header = [_as_text(cell) or "" for cell in next(values, ())]
            _require_header(self.path, self.header)
            for number, cells in enumerate(values, start=1):
                if all(cell is None for cell in cells):
                    continue
                rows.append({name: _as_text(cell) for name, cell in zip(self.header, cells)})
                records.append(number)
                if len(rows) >= BATCH_ROWS:
                    yield self._batch(rows, records)
                    rows, records = [], []
        finally:
            workbook.close()
        if rows:
            yield self._batch(rows, records)

    def _batch(self, rows: list[dict[str, str | None]], records: list[int]) -> pa.RecordBatch:
        columns = {name: pa.array([row.get(name) for row in rows], pa.string()) for name in self.header}
        columns[RECORD] = pa.array(records, pa.int64())
        return pa.RecordBatch.from_pydict(columns)


def is_unparseable_csv(error: Exception) -> bool:
    """Whether a fast CSV read failed on a row that does not parse (then read it again exactly)."""
    return isinstance(error, pa.ArrowInvalid) and "CSV parse error" in str(error)


class _RecordNumbers:
    """Record numbers of the rows pyarrow keeps, skipping those it handed to the invalid-row handler."""

    def __init__(self, invalid: list[int]) -> None:
        self._invalid = invalid
        self._next = 1

    def take(self, count: int) -> pa.Array:
        candidates = np.arange(self._next, self._next + count + len(self._invalid), dtype=np.int64)
        kept = candidates[~np.isin(candidates, self._invalid)][:count]
        self._next = int(kept[-1]) + 1 if count else self._next
        return pa.array(kept)


def _arrow_encoding(encoding: str | None) -> str:
    # pyarrow strips a UTF-8 BOM itself; other encodings it transcodes through Python's codecs.
    name = codecs.lookup(encoding or "utf-8").name
    return "utf8" if name in ("utf-8", "utf-8-sig") else name


def _require_bytes(path: Path) -> None:
    if path.stat().st_size == 0:
        raise EmptyFile("empty (0 bytes): not even a header row")


def _require_header(path: Path, header: list[str]) -> None:
    if not any(header):
        raise ValueError(f"{path.name}: no header row (the first row names no column)")


def _csv_header(path: Path, encoding: str, delimiter: str) -> tuple[list[str], bool]:
    """The header's column names, and whether anything follows the header line."""
    with path.open(encoding=encoding, newline="") as handle:
        header = next(csv.reader(io.StringIO(handle.readline()), delimiter=delimiter), [])
        rows_follow = handle.read(1) != ""
    return [name.lstrip("\ufeff").strip() for name in header], rows_follow


def _json_object(line: str) -> dict | str:
    """The line's JSON object, or the reason it is not one."""
    try:
        parsed = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    return parsed if isinstance(parsed, dict) else "not a JSON object"


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)

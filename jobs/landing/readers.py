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
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

RECORD = "_record"
BATCH_ROWS = 200_000
CSV_BLOCK = 32 << 20
# A workbook is a zip of XML parts. Real sheets compress some tens of times; a part that inflates
# over a hundredfold to more than this is a decompression bomb, turned away before it is opened.
XLSX_BOMB_RATIO, XLSX_BOMB_BYTES = 100, 16 << 20


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
        _require_declared_encoding(self.path, self.encoding)
        self.header, rows_follow = _csv_header(self.path, self.encoding or "utf-8", self.delimiter)
        _require_header(self.path, self.header)
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
                                           block_size=CSV_BLOCK),
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
        _require_declared_encoding(self.path, self.encoding)
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
        _require_no_zip_bomb(self.path)
        # openpyxl parses with defusedxml (a dependency): entity expansion bombs raise, not inflate
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
            self.header = _without_trailing_blanks([_as_text(cell) or "" for cell in next(values, ())])
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
    if not all(name.strip() for name in header):
        raise ValueError(f"{path.name}: a column without a name in the header {header}")
    if len(set(header)) != len(header):
        raise ValueError(f"{path.name}: duplicated column names in the header {header}")


def _without_trailing_blanks(header: list[str]) -> list[str]:
    """A sheet's header row without the empty cells after its last named column (a sheet's
    dimension may reach further than its columns)."""
    while header and not header[-1].strip():
        header = header[:-1]
    return header


def _require_declared_encoding(path: Path, encoding: str | None) -> None:
    """A file declared GBK (or GB 18030) that is UTF-8 text would decode without error into
    mojibake (UTF-8 "测试" reads as GBK "娴嬭瘯"); it is turned away instead. Real GBK text breaks
    UTF-8 at its first Chinese character, where the scan stops; ASCII is both and is read on."""
    if encoding is None or codecs.lookup(encoding).name not in ("gbk", "gb18030"):
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    seen_non_ascii = False
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if chunk.isascii():
                continue
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return
            seen_non_ascii = True
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return  # ends inside a UTF-8 sequence: not UTF-8 after all
    if seen_non_ascii:
        raise UnicodeError(f"{path.name}: the manifest says {encoding}, but the file is UTF-8 text "
                           f"(read as {encoding} it would land as mojibake)")


def _require_no_zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        for part in archive.infolist():
            inflated, packed = part.file_size, max(part.compress_size, 1)
            if inflated > XLSX_BOMB_BYTES and inflated > XLSX_BOMB_RATIO * packed:
                raise ValueError(f"{path.name}: part {part.filename} inflates {packed:,} bytes to {inflated:,} "
                                 f"(over {XLSX_BOMB_RATIO}x): a decompression bomb, not opened")


def unreadable_reason(error: Exception) -> str:
    """Why a file could not be read, in words for the ledger (pyarrow's own are terse)."""
    text = str(error)
    if "straddling object straddles two block boundaries" in text:
        return f"a row longer than {CSV_BLOCK >> 20} MB (the reader's block): a field that size is no record"
    if "invalid UTF8 data" in text:
        return f"not UTF-8 text as the manifest declares ({text})"
    if text.startswith("Unable to read workbook") and error.__cause__ is not None:
        # openpyxl's own words name a temporary path and hide the cause (defusedxml's among them)
        cause = error.__cause__
        named = str(cause) if type(cause).__name__ in str(cause) else repr(cause)
        return f"a part of the workbook is not valid or safe XML: {named}"
    return text


def _csv_header(path: Path, encoding: str, delimiter: str) -> tuple[list[str], bool]:
    """The header's column names, and whether anything follows the header line."""
    with path.open(encoding=encoding, newline="") as handle:
        header = next(csv.reader(io.StringIO(handle.readline()), delimiter=delimiter), [])
        rows_follow = handle.read(1) != ""
    return [name.lstrip("\ufeff").strip() for name in header], rows_follow


def _json_object(line: str) -> dict | str:
    """The line's JSON object, or the reason it is not one."""
    try:
        parsed = json.loads(line, object_pairs_hook=_object_of_distinct_keys)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    except _DuplicatedKey as exc:  # json keeps the last value silently: which one was meant?
        return f"key {exc} given twice"
    except RecursionError:
        return "not valid JSON: nested too deep"
    return parsed if isinstance(parsed, dict) else "not a JSON object"


class _DuplicatedKey(ValueError):
    pass


def _object_of_distinct_keys(pairs: list[tuple[str, object]]) -> dict:
    parsed = dict(pairs)
    if len(parsed) != len(pairs):
        names = [name for name, _ in pairs]
        raise _DuplicatedKey(next(name for name in names if names.count(name) > 1))
    return parsed


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

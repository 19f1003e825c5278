"""Writing delivery packages exactly as the delivery contract describes them.

`<inbox>/<department>/<resource>/<batch_id>/`: data files in the resource's format and encoding,
then `manifest.json` last, written to a temporary name and renamed, so that a reader never sees
a manifest before its files. Rows are streamed in chunks; a file is closed and another begun when
it reaches the row limit (an Excel sheet holds at most 1,048,576 rows). Rows can be encoded
elsewhere (in a worker process) and handed over as bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from citylake.catalog import Resource
from citylake.files import file_digest
from synthetic.xlsx import XlsxWriter

MANIFEST = "manifest.json"
NUMERIC_TYPES = ("decimal", "double", "integer", "bigint")
_NUMBER = r"^-?\d+(\.\d+)?$"
_NEWLINE = ord("\n")


@dataclass
class FileInfo:
    name: str
    rows: int
    sha256: str


@dataclass
class PackageInfo:
    department: str
    resource: str
    batch_id: str
    sequence: int
    mode: str
    extracted_at: datetime
    format: str
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    files: list[FileInfo] = field(default_factory=list)
    folder: Path | None = None

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def manifest(self) -> dict:
        manifest = {"department": self.department, "resource": self.resource, "batch_id": self.batch_id,
                    "sequence": self.sequence, "mode": self.mode, "extracted_at": self.extracted_at.isoformat(),
                    "format": self.format}
        if self.format in ("csv", "jsonl"):
            manifest["encoding"] = self.encoding
        if self.format == "csv":
            manifest["delimiter"] = self.delimiter or ","
        if self.format == "xlsx" and self.sheet:
            manifest["sheet"] = self.sheet
        manifest["files"] = [{"name": f.name, "rows": f.rows, "sha256": f.sha256} for f in self.files]
        return manifest


def write_manifest(folder: Path, info: PackageInfo) -> None:
    text = json.dumps(info.manifest(), ensure_ascii=False, indent=2) + "\n"
    temporary = folder / f".{MANIFEST}.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, folder / MANIFEST)


def file_codec(resource: Resource) -> str:
    # utf-8-sig is UTF-8 with a byte order mark at the start of each file, written once
    return "utf-8" if resource.encoding == "utf-8-sig" else resource.encoding or "utf-8"


# ---------------------------------------------------------------------------- encoding rows


def encode_rows(table: pa.Table, resource: Resource, raw_lines: dict[int, str] | None = None) -> bytes:
    """The data lines of a CSV or JSON-lines file (no header) in the resource's encoding;
    raw_lines[i] is written instead of row i. Values never hold line breaks: line i is row i."""
    data = _csv_bytes(table, resource) if resource.format == "csv" else _jsonl_bytes(table, resource)
    if raw_lines:
        data = _replace_lines(data, raw_lines)
    codec = file_codec(resource)
    return data if codec == "utf-8" else data.decode("utf-8").encode(codec)


def _replace_lines(data: bytes, raw_lines: dict[int, str]) -> bytes:
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _NEWLINE)
    starts = np.concatenate([[0], ends[:-1] + 1])
    pieces, at = [], 0
    view = memoryview(data)
    for row in sorted(raw_lines):
        pieces.append(view[at:starts[row]])
        pieces.append((raw_lines[row] + "\n").encode("utf-8"))
        at = int(ends[row]) + 1
    pieces.append(view[at:])
    return b"".join(pieces)


def _string_bytes(values: pa.Array) -> bytes:
    """The concatenated UTF-8 bytes of a string array without nulls (no Python string per value)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if len(values) == 0:
        return b""
    _, offsets, data = values.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[values.offset: values.offset + len(values) + 1]
    return data.to_pybytes()[int(bounds[0]):int(bounds[-1])]


def csv_header(resource: Resource, columns: list[str]) -> bytes:
    return _csv_lines([columns], resource.delimiter or ",").encode(file_codec(resource))


def _csv_lines(rows, delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _csv_bytes(table: pa.Table, resource: Resource) -> bytes:
    if table.num_rows == 0:
        return b""
    delimiter = resource.delimiter or ","
    buffer = io.BytesIO()
    try:
        # unquoted values, as most department exports write them, when no value needs quotes
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none"))
        return buffer.getvalue()
    except pa.ArrowInvalid:
        rows = zip(*[table.column(name).to_pylist() for name in table.column_names])
        return _csv_lines(rows, delimiter).encode("utf-8")


def _jsonl_bytes(table: pa.Table, resource: Resource) -> bytes:
    if table.num_rows == 0:
        return b""
    columns = [table.column(name).combine_chunks() for name in table.column_names]
    if all(_plain(values) for values in columns):
        return _jsonl_by_csv_writer(table.column_names, columns, resource)
    # a value with a quote, backslash or control character: escape value by value (slower)
    members = [_json_member(name, values, is_numeric(resource, name)) for name, values in zip(table.column_names, columns)]
    lines = pc.binary_join_element_wise(pa.scalar("{"), pc.binary_join_element_wise(*members, ","), pa.scalar("}\n"), "")
    return _string_bytes(lines)


_JSON_UNSAFE = np.zeros(256, dtype=bool)
_JSON_UNSAFE[:32] = True
_JSON_UNSAFE[[ord('"'), ord("\\")]] = True
_QUOTE, _SEPARATOR = "\x01", "\x1f"  # stand-ins while pyarrow's CSV writer lays out the lines


def _plain(values: pa.Array) -> bool:
    """No character in the values needs escaping in JSON."""
    data = values.buffers()[2] if values.type == pa.string() else None
    return data is None or not _JSON_UNSAFE[np.frombuffer(data, dtype=np.uint8)].any()


def _jsonl_by_csv_writer(names: list[str], columns: list[pa.Array], resource: Resource) -> bytes:
    """JSON lines laid out by pyarrow's CSV writer, ten times faster than joining strings: the
    keys and punctuation between the values are constant columns, the delimiter is removed and a
    stand-in character becomes the quotes."""
    n = len(columns[0])
    layout: list[pa.Array] = []
    texts: list[str] = []
    quoted_before = False
    for position, (name, values) in enumerate(zip(names, columns)):
        numeric = is_numeric(resource, name)
        numbers = numeric and pc.all(pc.fill_null(pc.match_substring_regex(values, _NUMBER), True)).as_py()
        direct = values.null_count == 0 and (numbers or not numeric)
        quoted = direct and not numeric
        lead = (_QUOTE if quoted_before else "") + ("," if position else "{")
        texts.append(lead + _QUOTE + name + _QUOTE + ":" + (_QUOTE if quoted else ""))
        if direct:
            layout.append(values)
        else:
            as_text = pc.binary_join_element_wise(_QUOTE, values, _QUOTE, "")
            if numeric:
                is_number = pc.fill_null(pc.match_substring_regex(values, _NUMBER), False)
                as_text = pc.if_else(is_number, values, as_text)
            layout.append(pc.fill_null(as_text, "null"))
        quoted_before = quoted
    texts.append((_QUOTE if quoted_before else "") + "}")
    constants = [pa.repeat(pa.scalar(text_, pa.string()), n) for text_ in texts]
    interleaved = [constants[0]]
    for values, constant in zip(layout, constants[1:]):
        interleaved += [values, constant]
    buffer = io.BytesIO()
    pacsv.write_csv(pa.table({f"c{i}": a for i, a in enumerate(interleaved)}), buffer,
                    pacsv.WriteOptions(include_header=False, delimiter=_SEPARATOR, quoting_style="none"))
    return buffer.getvalue().replace(_SEPARATOR.encode(), b"").replace(_QUOTE.encode(), b'"')


def _json_member(name: str, column: pa.ChunkedArray | pa.Array, numeric: bool) -> pa.Array:
    """`"name":value` for every row: strings quoted (escaped only where needed), numbers bare, null."""
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    prefix = json.dumps(name, ensure_ascii=False) + ":"
    needs_escape = pc.fill_null(pc.match_substring_regex(values, r'["\\\x00-\x1f]'), False)
    if pc.any(needs_escape).as_py():
        quoted = pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values.to_pylist()], pa.string())
    else:
        quoted = pc.binary_join_element_wise(pa.scalar('"'), values, pa.scalar('"'), "")
    if numeric:
        is_number = pc.fill_null(pc.match_substring_regex(values, _NUMBER), False)
        quoted = pc.if_else(is_number, values, quoted)
    return pc.binary_join_element_wise(pa.scalar(prefix), pc.fill_null(quoted, "null"), "")


def is_numeric(resource: Resource, name: str) -> bool:
    try:
        return resource.column(name).type.startswith(NUMERIC_TYPES)
    except KeyError:
        return False


# ---------------------------------------------------------------------------- writing packages


class PackageWriter:
    """Streams the rows of one package into its files; `close()` writes the manifest."""

    def __init__(self, folder: Path, resource: Resource, batch_id: str, sequence: int, mode: str,
                 extracted_at: datetime, file_stem: str, max_rows_per_file: int, columns: list[str]) -> None:
        self.folder, self.resource, self.stem, self.limit = folder, resource, file_stem, max_rows_per_file
        self.columns = columns
        folder.mkdir(parents=True, exist_ok=True)
        self.info = PackageInfo(resource.department, resource.code, batch_id, sequence, mode, extracted_at,
                                resource.format, resource.encoding, resource.delimiter, resource.sheet, folder=folder)
        self._file: _TextFile | _XlsxFile | None = None

    @property
    def rows_written(self) -> int:
        return self.info.rows + (self._file.rows if self._file is not None else 0)

    def file_name(self, index: int) -> str:
        return f"{self.stem}_{index + 1:03d}.{self.resource.format}"

    def locate(self, position: int) -> tuple[str, int]:
        """File name and 1-based data line of the package's row at 0-based `position`."""
        return self.file_name(position // self.limit), position % self.limit + 1

    def write(self, table: pa.Table, raw_lines: dict[int, str] | None = None) -> None:
        """Write the catalog columns of `table` (metadata columns stay behind)."""
        data = table.select(self.columns)
        if self.resource.format == "xlsx":
            self._write_table(data)
        else:
            self.write_encoded(encode_rows(data, self.resource, raw_lines), data.num_rows)

    def _write_table(self, data: pa.Table) -> None:
        start = 0
        while start < data.num_rows:
            file = self._current()
            piece = data.slice(start, self.limit - file.rows)
            file.append(piece)
            start += piece.num_rows
            self._close_if_full()

    def write_encoded(self, data: bytes, rows: int) -> None:
        """Write `rows` encoded data lines (see `encode_rows`)."""
        while rows:
            file = self._current()
            room = self.limit - file.rows
            if rows <= room:
                file.append_bytes(data, rows)
                rows = 0
            else:
                ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _NEWLINE)
                cut = int(ends[room - 1]) + 1
                file.append_bytes(data[:cut], room)
                data, rows = data[cut:], rows - room
            self._close_if_full()

    def _current(self):
        if self._file is None:
            name = self.file_name(len(self.info.files))
            kind = _XlsxFile if self.resource.format == "xlsx" else _TextFile
            self._file = kind(self.folder / name, self.resource, self.columns, self.info.extracted_at)
        return self._file

    def _close_if_full(self) -> None:
        if self._file is not None and self._file.rows >= self.limit:
            self.info.files.append(self._file.close())
            self._file = None

    def close(self) -> PackageInfo:
        if self._file is None and not self.info.files:
            self._current()  # an empty extract still delivers one file (a header only)
        if self._file is not None:
            self.info.files.append(self._file.close())
            self._file = None
        write_manifest(self.folder, self.info)
        return self.info


class _TextFile:
    def __init__(self, path: Path, resource: Resource, columns: list[str], extracted_at: datetime) -> None:
        self.path, self.rows = path, 0
        self.handle = path.open("wb")
        self.digest = hashlib.sha256()
        if resource.encoding == "utf-8-sig":
            self._emit("\ufeff".encode())
        if resource.format == "csv":
            self._emit(csv_header(resource, columns))

    def _emit(self, data: bytes) -> None:
        self.handle.write(data)
        self.digest.update(data)

    def append_bytes(self, data: bytes, rows: int) -> None:
        self._emit(data)
        self.rows += rows

    def close(self) -> FileInfo:
        self.handle.close()
        return FileInfo(self.path.name, self.rows, self.digest.hexdigest())


class _XlsxFile:
    def __init__(self, path: Path, resource: Resource, columns: list[str], extracted_at: datetime) -> None:
        self.path, self.rows = path, 0
        numeric = [is_numeric(resource, name) for name in columns]
        self.writer = XlsxWriter(path, resource.sheet or "Sheet1", columns, numeric, extracted_at)

    def append(self, table: pa.Table) -> None:
        # a workbook has no unparseable rows: that row fault is never planned for xlsx
        self.writer.append(table)
        self.rows += table.num_rows

    def close(self) -> FileInfo:
        self.writer.close()
        return FileInfo(self.path.name, self.rows, file_digest(self.path))


def truncate_file(path: Path, keep: float = 0.6) -> tuple[int, int]:
    """Cut a delivered file short, as an interrupted copy would; returns (old, new) sizes."""
    size = path.stat().st_size
    new_size = max(1, int(size * keep))
    with path.open("r+b") as handle:
        handle.truncate(new_size)
    return size, new_size

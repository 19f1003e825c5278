"""Staging a package: its delivered rows, with their origin columns and row hash, written once by
Arrow as the raw table's own Parquet data files, ready for one Delta commit.

Each delivered file becomes one Parquet file under the batch's folder in the table, with the
columns under the physical names and field ids of the table's column mapping, so the commit adds
the files as they are: no engine reads and rewrites the rows after parsing. A file without rows
(a header only) writes no file but still gives the table its columns, so that a first delivery
of no rows creates the table with them.
"""

from __future__ import annotations

import queue
import re
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from pathlib import Path

import polars as pl
import polars_hash as plh
import pyarrow as pa
import pyarrow.parquet as pq

from citylake.delta_files import ARROW_TYPES, ColumnLayout, DataFile, arrow_field, data_file
from jobs.landing.manifest import FileEntry, Package, PackageRejected
from jobs.landing.readers import RECORD, BadRow, EmptyFile, FileReader, is_unparseable_csv, unreadable_reason

# The origin every landed row carries, after the delivered columns, with its Delta type.
ORIGIN_TYPES = {"_batch_id": "string", "_sequence": "long", "_department": "string", "_mode": "string",
                "_extracted_at": "timestamp", "_file": "string", "_record": "long",
                "_ingested_at": "timestamp", "_row_hash": "string"}
ORIGIN_COLUMNS = list(ORIGIN_TYPES)

# `_row_hash`: XXH3-128 (hex) of the delivered values in file order, joined by U+001F, a missing
# value as U+0000. XXH3 is a frozen, documented algorithm (tests pin known values); the contract
# asks for a hash of the row's content, for spotting identical rows, not for security.
FIELD_SEPARATOR, MISSING_VALUE = "\u001f", "\u0000"

RowsSeen = Callable[[int], None]


@dataclass
class Staged:
    """A package's rows as data files of the table, with what reading it found."""

    files: list[DataFile]
    columns: list[str]                       # the delivered columns (of the first file with any)
    rows_read: int
    bad_rows: list[tuple[str, BadRow]]


@dataclass(frozen=True)
class Origin:
    """The values every row of the package shares."""

    batch_id: str
    sequence: int
    department: str
    mode: str
    extracted_at: datetime
    ingested_at: datetime


def batch_folder_name(batch_id: str) -> str:
    """The batch's folder in the table: readable, URL-safe, and distinct for distinct batch ids."""
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", batch_id)[:60]
    # No `=` in the name: engines would take `name=value` folders for partition values.
    return f"batch-{readable}-{sha256(batch_id.encode()).hexdigest()[:12]}"


def stage_package(package: Package, folder: Path, layout: ColumnLayout, stats_columns: Iterable[str],
                  ingested_at: datetime, on_rows: RowsSeen | None = None,
                  undelivered_columns: Sequence[str] = ()) -> Staged:
    """Write every file of the package as a data file under `folder` (the batch's folder in the
    table), checking row counts against the manifest; PackageRejected when a file is empty or
    unreadable. `on_rows` hears the rows parsed so far in the package. `undelivered_columns` are
    the columns the table gets when no file names any (JSON lines without a row): the catalog's."""
    manifest = package.manifest
    origin = Origin(manifest.batch_id, manifest.sequence, manifest.department, manifest.mode,
                    manifest.extracted_at, ingested_at)
    folder.mkdir(parents=True, exist_ok=True)
    attempt = uuid.uuid4().hex[:12]
    files, columns, rows_read, bad = [], [], 0, []
    for index, entry in enumerate(manifest.files):
        part = folder / f"part-{index:05d}-{attempt}.snappy.parquet"
        in_package = _counting_from(rows_read, on_rows)
        try:
            reader, written = _write_file_numbering_bad_rows(package, entry, part, layout, origin, in_package)
        except EmptyFile as error:
            raise PackageRejected(f"file {entry.name}: {error}") from None
        # undecodable bytes, broken workbook (not even a zip archive), bad header
        except UnicodeDecodeError as error:
            raise PackageRejected(f"file {entry.name}: not {manifest.encoding} text as the manifest declares: "
                                  f"{error}") from None
        except (UnicodeError, ValueError, zipfile.BadZipFile) as error:
            raise PackageRejected(f"file {entry.name}: unreadable: {unreadable_reason(error)}") from None
        found = reader.rows_parsed + len(reader.bad_rows)
        if found != entry.rows:
            raise PackageRejected(f"file {entry.name}: {found} data rows, the manifest says {entry.rows}")
        if written is not None:
            # The batch's folder sits in the table's root: the path Delta records is relative to it.
            files.append(data_file(part, folder.parent, written, [layout.get(name) for name in stats_columns]))
        columns = columns or reader.header
        rows_read += found
        bad.extend((entry.name, row) for row in reader.bad_rows)
    if not columns:
        declare_columns(list(undelivered_columns), layout)
    return Staged(files, columns, rows_read, bad)


def declare_columns(delivered: list[str], layout: ColumnLayout) -> None:
    """Give the table these delivered columns and the origin ones, though no row brings them: a
    delivery of no rows is valid, and the table must have its columns after it."""
    _file_schema(delivered, layout)


def _counting_from(before: int, on_rows: RowsSeen | None) -> RowsSeen | None:
    """A file's row counts as the package's: the rows of the files before it come first."""
    if on_rows is None:
        return None
    return lambda rows: on_rows(before + rows)


def _write_file_numbering_bad_rows(package: Package, entry: FileEntry, part: Path, layout: ColumnLayout,
                                   origin: Origin, on_rows: RowsSeen | None) -> tuple[FileReader, pq.FileMetaData | None]:
    try:
        return _write_file(package, entry, part, layout, origin, on_rows, exact_record_numbers=False)
    except pa.ArrowInvalid as error:
        if not is_unparseable_csv(error):
            raise
        if on_rows is not None:
            on_rows(0)  # the file is read again from its start
        return _write_file(package, entry, part, layout, origin, on_rows, exact_record_numbers=True)


def _write_file(package: Package, entry: FileEntry, part: Path, layout: ColumnLayout, origin: Origin,
                on_rows: RowsSeen | None, *, exact_record_numbers: bool) -> tuple[FileReader, pq.FileMetaData | None]:
    """One delivered file's rows, with origin columns and row hashes, as one Parquet data file."""
    manifest = package.manifest
    reader = FileReader(package.file(entry), manifest.format, manifest.encoding, manifest.delimiter,
                        manifest.sheet, exact_record_numbers=exact_record_numbers)
    part.unlink(missing_ok=True)
    with ParquetSink(part, layout, entry.name, origin) as sink:
        for batch in reader.batches():
            if not batch.num_rows:
                continue
            sink.put(batch)
            reader.rows_parsed += batch.num_rows
            if on_rows is not None:
                on_rows(reader.rows_parsed)
    if sink.metadata is None and reader.header:
        declare_columns(reader.header, layout)  # a header without rows
    return reader, sink.metadata


class ParquetSink:
    """Hashes and writes a file's batches on a thread of its own while the next ones are parsed.

    Parsing a GBK file keeps one core busy decoding (pyarrow transcodes through Python's codec);
    the row hash and the Parquet encoding release the GIL, so they run beside it on the other."""

    _DONE = object()

    def __init__(self, part: Path, layout: ColumnLayout, file_name: str, origin: Origin) -> None:
        self._part, self._layout, self._file_name, self._origin = part, layout, file_name, origin
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._drain, name=f"stage {file_name}", daemon=True)
        self._schema: pa.Schema | None = None
        self._error: BaseException | None = None
        self._collected: list[pq.FileMetaData] = []

    @property
    def metadata(self) -> pq.FileMetaData | None:
        """The written file's footer (None when the file had no rows)."""
        return self._collected[0] if self._collected else None

    def __enter__(self) -> "ParquetSink":
        self._thread.start()
        return self

    def put(self, batch: pa.RecordBatch) -> None:
        if self._error is not None:
            raise self._error
        if self._schema is None:  # the layout is only touched here, on the parsing thread
            self._schema = _file_schema([name for name in batch.schema.names if name != RECORD], self._layout)
            self._queue.put(_encodings(self._schema, self._layout))
        self._queue.put(batch)

    def __exit__(self, *exc_info: object) -> None:
        self._queue.put(self._DONE)
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error

    def _drain(self) -> None:
        writer = None
        try:
            while (item := self._queue.get()) is not self._DONE:
                if isinstance(item, dict):
                    writer = pq.ParquetWriter(self._part, self._schema, metadata_collector=self._collected, **item)
                else:
                    writer.write_batch(with_origin(item, self._file_name, self._origin, self._schema))
        except BaseException as error:  # handed to the parsing thread, which raises it
            self._error = error
            while self._queue.get() is not self._DONE:
                pass  # keep taking batches so that the parsing thread never blocks on a full queue
        finally:
            if writer is not None:
                writer.close()


def _encodings(schema: pa.Schema, layout: ColumnLayout) -> dict:
    """Parquet encodings per column. Row hashes are random: a dictionary, compression or min/max
    would cost time and buy nothing. Record numbers count up: delta encoding keeps them small."""
    row_hash, record = layout.get("_row_hash").physical, layout.get("_record").physical
    names = schema.names
    return {"compression": {name: "none" if name == row_hash else "snappy" for name in names},
            "use_dictionary": [name for name in names if name not in (row_hash, record)],
            "column_encoding": {record: "DELTA_BINARY_PACKED"},
            "write_statistics": [name for name in names if name != row_hash]}


def _file_schema(delivered: list[str], layout: ColumnLayout) -> pa.Schema:
    """The data file's Arrow schema: delivered columns, then origin, under their physical names."""
    clashing = [name for name in delivered if name in ORIGIN_TYPES]
    if clashing:
        raise ValueError(f"column(s) {', '.join(clashing)} clash with the lake's origin columns")
    columns = [layout.column(name, "string") for name in delivered]
    columns += [layout.column(name, kind) for name, kind in ORIGIN_TYPES.items()]
    return pa.schema([arrow_field(column) for column in columns])


def with_origin(batch: pa.RecordBatch, file_name: str, origin: Origin, schema: pa.Schema) -> pa.RecordBatch:
    """The delivered rows plus where they came from: batch, sequence, department, mode, extract
    time, file, record, ingest time and row hash, in the data file's schema."""
    delivered = [name for name in batch.schema.names if name != RECORD]
    rows = batch.num_rows
    shared = {"_batch_id": origin.batch_id, "_sequence": origin.sequence, "_department": origin.department,
              "_mode": origin.mode, "_extracted_at": origin.extracted_at, "_file": file_name,
              "_ingested_at": origin.ingested_at}
    arrays = [batch.column(name) for name in delivered]
    for name, kind in ORIGIN_TYPES.items():
        if name == "_record":
            arrays.append(batch.column(RECORD))
        elif name == "_row_hash":
            arrays.append(row_hashes(batch, delivered))
        else:
            arrays.append(pa.repeat(pa.scalar(shared[name], ARROW_TYPES[kind]), rows))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def row_hashes(batch: pa.RecordBatch, columns: list[str]) -> pa.Array:
    """`_row_hash` of each row: XXH3-128 hex of its values in `columns` order (see FIELD_SEPARATOR)."""
    if not columns:
        return pa.repeat(pa.scalar(None, pa.string()), batch.num_rows)
    frame = pl.from_arrow(batch.select(columns))
    content = frame.select(pl.concat_str([pl.col(name).fill_null(MISSING_VALUE) for name in columns],
                                         separator=FIELD_SEPARATOR).alias("content"))
    hashed = content.select(plh.col("content").nchash.xxh3_128(return_binary=True, byte_order="big")
                            .bin.encode("hex"))
    return hashed.to_series().to_arrow().cast(pa.string())

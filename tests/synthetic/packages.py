"""Reading a generated city's packages back, row by row with their line numbers, for the tests."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook


@dataclass
class Row:
    package: str            # inbox/<department>/<resource>/<batch_id>
    batch_id: str
    mode: str
    file: str
    line: int               # 1-based data row number, header excluded
    values: dict[str, str | None] | None   # None: the row does not parse
    text: str | None = None


def manifests(city: Path, inbox: str = "inbox") -> Iterator[tuple[Path, dict]]:
    for path in sorted((city / inbox).glob("*/*/*/manifest.json")):
        yield path.parent, json.loads(path.read_text(encoding="utf-8"))


def rows(folder: Path, manifest: dict) -> Iterator[Row]:
    package = "/".join(folder.parts[-4:])
    for entry in manifest["files"]:
        path = folder / entry["name"]
        for line, values, text in _read(path, manifest):
            yield Row(package, manifest["batch_id"], manifest["mode"], entry["name"], line, values, text)


def _read(path: Path, manifest: dict):
    fmt = manifest["format"]
    if fmt == "csv":
        text = path.read_bytes().decode(manifest["encoding"]).lstrip("\ufeff")
        lines = text.split("\n")
        header = next(csv.reader([lines[0]], delimiter=manifest["delimiter"]))
        for number, line in enumerate(lines[1:], start=1):
            if line == "" and number == len(lines) - 1:
                break
            fields = next(csv.reader([line], delimiter=manifest["delimiter"]))
            if len(fields) != len(header):
                yield number, None, line
            else:
                yield number, {h: (v if v != "" else None) for h, v in zip(header, fields)}, None
    elif fmt == "jsonl":
        for number, line in enumerate(path.read_bytes().decode(manifest["encoding"]).splitlines(), start=1):
            try:
                yield number, {k: None if v is None else str(v) for k, v in json.loads(line).items()}, None
            except json.JSONDecodeError:
                yield number, None, line
    else:
        workbook = load_workbook(path, read_only=True)
        sheet = workbook[manifest.get("sheet") or workbook.sheetnames[0]]
        values = sheet.iter_rows(values_only=True)
        header = list(next(values))
        for number, cells in enumerate(values, start=1):
            yield number, {h: None if c is None else str(c) for h, c in zip(header, cells)}, None
        workbook.close()


def count_rows(path: Path, manifest: dict) -> int:
    return sum(1 for _ in _read(path, manifest))



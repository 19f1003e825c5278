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




REPAIRED = {"legacy_15_digit_id", "fullwidth_digits", "stray_spaces", "date_format", "gender_variant",
            "ethnicity_variant"}
QUARANTINED = {"invalid_check_digit", "unknown_division_code", "missing_required", "unparseable_row", "duplicate_row"}


def applied_packages(packages: list[dict], department: str, resource: str) -> list[dict]:
    """The packages of a resource a lake applies once every wave is landed, in sequence order: held
    ones once their gap is filled, a truncated package's intact re-send, never a full extract the
    delete guard holds, a replay or a conflicting replay."""
    chosen: dict[int, dict] = {}
    for package in packages:
        if (package["department"], package["resource"]) != (department, resource):
            continue
        applies = package["expected_status"] == "landed" or (
            package["expected_status"] == "held" and package["fault"] != "district_missing")
        if applies and package["fault"] != "replay":
            chosen.setdefault(package["sequence"], package)
    return [chosen[sequence] for sequence in sorted(chosen)]


def final_state(city: Path, resource, packages: list[dict], faults: list[dict]) -> dict[str, dict]:
    """Each record's last applied version, by its true key ("a|b" for compound keys): full extracts
    replace the state, incremental rows upsert or delete when not older than the version held;
    quarantined rows are left out and repaired values are put back to their true value."""
    quarantined = {(f["batch_id"], f["file"], f["line"]) for f in faults if f["kind"] in QUARANTINED and f["line"]}
    true_key = {(f["batch_id"], f["file"], f["line"]): f["key"] for f in faults if f["line"] and f["key"]}
    repaired: dict[tuple, dict[str, str]] = {}
    for f in faults:
        if f["kind"] in REPAIRED and f["line"]:
            repaired.setdefault((f["batch_id"], f["file"], f["line"]), {})[f["column"]] = f["true_value"]
    state: dict[str, dict] = {}
    time_column, operation = resource.change_time_column, resource.operation_column
    for package in applied_packages(packages, resource.department, resource.code):
        folder = city / package["path"]
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest["mode"] == "full":
            state = {}
        for row in rows(folder, manifest):
            place = (row.batch_id, row.file, row.line)
            if row.values is None or place in quarantined:
                continue
            values = {**row.values, **repaired.get(place, {})}
            key = true_key.get(place) or "|".join(values[column] for column in resource.key)
            held = state.get(key)
            if manifest["mode"] == "incremental" and held is not None and time_column \
                    and values[time_column] < held[time_column]:
                continue  # a late row: an older version than the one held
            if manifest["mode"] == "incremental" and values.get(operation) == "D":
                state.pop(key, None)
            else:
                state[key] = values
    return state

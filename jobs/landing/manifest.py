"""The delivery contract's package: `manifest.json` read, validated and checked against its files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from citylake.files import file_digest

MANIFEST = "manifest.json"


class PackageRejected(Exception):
    """The package breaks the contract; nothing of it is written. The message is the ledger's reason."""


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[^/\\]+$")
    rows: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    department: str
    resource: str
    batch_id: str = Field(min_length=1)
    sequence: int = Field(ge=1)
    mode: Literal["full", "incremental"]
    extracted_at: AwareDatetime
    format: Literal["csv", "jsonl", "xlsx"]
    encoding: Literal["utf-8", "utf-8-sig", "gbk", "gb18030"] | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | None = None
    files: list[FileEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _encoding_fits_format(self) -> "Manifest":
        if self.format in ("csv", "jsonl") and self.encoding is None:
            raise ValueError(f"format {self.format} needs an encoding")
        return self

    @model_validator(mode="after")
    def _files_listed_once(self) -> "Manifest":
        # a file listed twice would land its rows twice
        names = [entry.name for entry in self.files]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"file(s) listed more than once: {', '.join(twice)}")
        return self

    @property
    def total_rows(self) -> int:
        return sum(entry.rows for entry in self.files)

    @property
    def content_hash(self) -> str:
        """One hash of the package's content: the same files give the same hash, whatever the order."""
        parts = sorted(f"{entry.name}:{entry.sha256.lower()}" for entry in self.files)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Package:
    """A ready package: its folder and its parsed manifest."""

    path: Path
    manifest: Manifest

    def file(self, entry: FileEntry) -> Path:
        return self.path / entry.name


def read_manifest(folder: Path) -> Manifest:
    """The folder's manifest, or PackageRejected naming what is wrong with it."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageRejected(f"manifest unreadable: {exc}") from None
    except RecursionError:  # arrays or objects nested thousands deep: no manifest looks like that
        raise PackageRejected("manifest unreadable: JSON nested too deep") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'manifest'}: {e['msg']}" for e in exc.errors())
        raise PackageRejected(f"manifest invalid: {problems}") from None


def verify_files(package: Package) -> None:
    """The package sits in its resource's folder and every listed file is in it with the published
    SHA-256; otherwise PackageRejected says what differs."""
    _verify_place(package)
    inside = package.path.resolve()
    for entry in package.manifest.files:
        path = package.file(entry)
        if not path.is_file():
            raise PackageRejected(f"file {entry.name}: missing")
        if not path.resolve().is_relative_to(inside):
            raise PackageRejected(f"file {entry.name}: a link to {path.resolve()}, outside the package")
        actual = file_digest(path)
        if actual != entry.sha256.lower():
            raise PackageRejected(f"file {entry.name}: sha256 {actual} differs from the manifest's {entry.sha256.lower()}")


def _verify_place(package: Package) -> None:
    """The manifest names the department and resource whose folder holds it: the ledger history a
    package is checked against (sequence, replay) is its folder's."""
    manifest, folder = package.manifest, package.path
    named, placed = f"{manifest.department}/{manifest.resource}", f"{folder.parent.parent.name}/{folder.parent.name}"
    if named != placed:
        raise PackageRejected(f"manifest names {named}, but the package is under {placed}/")


def ready_packages(inbox: Path) -> list[Path]:
    """Package folders under `<inbox>/<department>/<resource>/` whose manifest has arrived."""
    return sorted(manifest.parent for manifest in inbox.glob(f"*/*/*/{MANIFEST}"))


def now() -> datetime:
    return datetime.now().astimezone()

"""File digests, the one way every part of citylake checks a file's content."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The file's digest as lowercase hex, read in blocks (files can be gigabytes)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()

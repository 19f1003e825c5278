"""Vectorized formatting of generated values into the strings departments deliver (pyarrow)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DAY = 86_400


def join(*parts: pa.Array | str, separator: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays and constants; null if any part is null."""
    arrays = [part if not isinstance(part, str) else pa.scalar(part, pa.string()) for part in parts]
    return pc.binary_join_element_wise(*arrays, separator)


def pick(words: list[str] | pa.Array, index: np.ndarray) -> pa.Array:
    table = words if isinstance(words, pa.Array) else pa.array(words, pa.string())
    return table.take(pa.array(np.asarray(index, dtype=np.int64)))


def integers(values: np.ndarray, width: int = 0) -> pa.Array:
    text = pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())
    return pc.utf8_lpad(text, width, "0") if width else text


def fixed(values: np.ndarray, places: int) -> pa.Array:
    """Decimal numbers with exactly `places` decimals (no float repr noise)."""
    scale = 10 ** places
    scaled = np.round(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)
    sign = np.where(scaled < 0, "-", "")
    whole = pa.array(np.abs(scaled) // scale).cast(pa.string())
    if places == 0:
        return join(pa.array(sign), whole)
    return join(pa.array(sign), whole, ".", pc.utf8_lpad(pa.array(np.abs(scaled) % scale).cast(pa.string()), places, "0"))


def dates(days_since_epoch: np.ndarray) -> pa.Array:
    """YYYY-MM-DD from days since 1970-01-01."""
    return pa.array(np.asarray(days_since_epoch, dtype=np.int64).astype(np.int32), pa.date32()).cast(pa.string())


def timestamps(seconds: np.ndarray, start: date, iso_offset: bool = False) -> pa.Array:
    """Local times from seconds since the start date's midnight: YYYY-MM-DD HH:MM:SS, or ISO 8601
    with +08:00 when `iso_offset`."""
    base = np.datetime64(start.isoformat(), "s").astype(np.int64)
    values = pa.array(np.asarray(seconds, dtype=np.int64) + base, pa.timestamp("s")).cast(pa.string())
    if iso_offset:
        return join(pc.replace_substring(values, " ", "T"), "+08:00")
    return values


def epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def nulls_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    """The values with nulls where mask is true."""
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), pa.scalar(None, values.type), values)

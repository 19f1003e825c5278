"""The ID number and credit code standards against python-stdnum, on a million random values each.

Values are drawn vectorised (numpy byte matrices, pyarrow string kernels) as a mix of valid
numbers and every fault the standards name: wrong check characters, bad lengths, bad characters,
15-digit numbers, impossible birth dates, full-width characters, lower case, stray spaces,
separators, a line break at the end (LF, CRLF, CR), Unicode spaces around the value, and invisible
format characters (byte-order mark, zero-width space, non-joiner, joiner, word joiner) at its
start, in its middle or at its end. Spark standardizes them from Parquet; python-stdnum judges the same values in a
thread meanwhile (Spark works in its own JVM). Validity, the standard value and the reason must
agree for every value.

The reference is stdnum after the normalisation the standards document and stdnum does not do:
format characters (Unicode category Cf) removed, full width folded (NFKC) and every space removed
(Python's whitespace: line terminators included); a 15-digit ID number is upgraded (century 19,
check character by stdnum) before stdnum validates it. Two rules of stdnum are not the standards':
- stdnum.cn.ric also looks the division code up in its table of places, valid for a range of birth
  years. The standard does not: a number keeps the code of the office that issued it, which may
  be years after the birth, and Taiwan residents' permits (830000) are in no table. The lookup is
  switched off; every other rule of `ric.validate` applies.
- stdnum.cn.uscc wants a digit as registration authority; GB 32100 authorities added later use a
  letter (N agriculture, Y other, ...). Such a code gets stdnum's other checks with a digit in
  its place, and its check character by `uscc.calc_check_digit`.
"""

from __future__ import annotations

import unicodedata
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from jobs.integrate.standards import standardize

pytestmark = pytest.mark.spark

VALUES = 1_000_000  # of each: ID numbers and credit codes
SEED = 20240305

ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
ID_CHECKS = np.array([ord(c) for c in "10X98765432"], dtype=np.uint32)
ID_CHARACTERS = np.array([ord(c) for c in "0123456789X"], dtype=np.uint32)
USCC_ALPHABET = np.array([ord(c) for c in "0123456789ABCDEFGHJKLMNPQRTUWXY"], dtype=np.uint32)
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
USCC_VALUE = np.full(128, -1, dtype=np.int64)
USCC_VALUE[USCC_ALPHABET] = np.arange(31)
DIVISIONS = np.array([350502, 350503, 352401, 350522, 350583, 110101, 440305, 810000, 820000, 830000])


def code_points(characters: str) -> np.ndarray:
    return np.array([ord(c) for c in characters], dtype=np.uint32)


# what a value may be corrupted with: letters (some never in a credit code), lower case, punctuation
CORRUPTIONS = code_points("AIOSVZXxab-*./#")
INNER_SPACES = code_points(" \t")
PADDING = code_points(" \t\u3000\u00a0\u2003\u202f")
# a line's end read with the last field: LF, CRLF (CR then LF) or CR
LINE_FEED, CARRIAGE_RETURN = ord("\n"), ord("\r")
# byte-order mark, zero-width space, zero-width non-joiner and joiner, word joiner
FORMAT_CHARACTERS = code_points("\ufeff\u200b\u200c\u200d\u2060")
FULLWIDTH_OFFSET = 0xFF01 - 0x21  # U+FF01..U+FF5E are the full-width forms of ASCII 0x21..0x7E


# ------------------------------------------------------------------ drawing values
# A value is a row of code points, zero-padded on the right, so that every fault is a vectorised
# operation on the whole matrix.


def as_text(chars: np.ndarray) -> pa.Array:
    return pa.array(np.ascontiguousarray(chars).view(f"<U{chars.shape[1]}").ravel(), pa.string())


def lengths_of(chars: np.ndarray) -> np.ndarray:
    return (chars != 0).sum(axis=1)


def some_rows(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return np.flatnonzero(rng.random(n) < share)


def digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((np.asarray(values, dtype=np.int64)[:, None] // powers) % 10 + ord("0")).astype(np.uint32)


def birth_dates(rng: np.random.Generator, n: int, first_year: int, last_year: int) -> np.ndarray:
    """YYYYMMDD of random days, as integers."""
    first, last = np.datetime64(date(first_year, 1, 1)), np.datetime64(date(last_year, 12, 31))
    days = first + rng.integers(0, (last - first).astype(int) + 1, n).astype("timedelta64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return years * 10_000 + months * 100 + (days - days.astype("datetime64[M]")).astype(np.int64) + 1


def impossible_dates(rng: np.random.Generator, n: int, first_year: int, last_year: int) -> np.ndarray:
    """YYYYMMDD that are no calendar day: 30 February, 29 February of common years, month 0 or 13,
    day 0 or 32, 31 April, year 0."""
    common_years = np.array([y for y in range(first_year, last_year + 1) if y % 4 or (y % 100 == 0 and y % 400)])
    month_days = np.array([230, 1301, 1, 132, 431, 931, 1100, 1232, 630])
    dates = rng.integers(first_year, last_year + 1, n) * 10_000 + rng.choice(month_days, n)
    kind = rng.integers(0, 10, n)
    dates = np.where(kind == 0, rng.choice(common_years, n) * 10_000 + 229, dates)
    return np.where(kind == 1, 101, dates)  # 0000-01-01


def id_check_characters(body: np.ndarray) -> np.ndarray:
    return ID_CHECKS[((body.astype(np.int64) - ord("0")) * ID_WEIGHTS).sum(axis=1) % 11]


def uscc_check_characters(body: np.ndarray) -> np.ndarray:
    return USCC_ALPHABET[(31 - (USCC_VALUE[body] * USCC_WEIGHTS).sum(axis=1) % 31) % 31]


def wrong_characters(rng: np.random.Generator, right: np.ndarray, alphabet: np.ndarray) -> np.ndarray:
    """Another character of the alphabet than the right one, at random."""
    ordered = np.sort(alphabet)
    shift = rng.integers(1, len(ordered), len(right))
    return ordered[(np.searchsorted(ordered, right) + shift) % len(ordered)]


def corrupted(rng: np.random.Generator, chars: np.ndarray, share: float) -> np.ndarray:
    """A share of the values with one character replaced by one of CORRUPTIONS."""
    chars = chars.copy()
    rows = some_rows(rng, len(chars), share)
    chars[rows, rng.integers(0, lengths_of(chars[rows]))] = rng.choice(CORRUPTIONS, rows.size)
    return chars


def resized(rng: np.random.Generator, chars: np.ndarray, share: float, kept: tuple[int, ...]) -> np.ndarray:
    """A share of the values cut short or lengthened with random digits, to any length but `kept`."""
    chars = chars.copy()
    width = chars.shape[1]
    rows = some_rows(rng, len(chars), share)
    new_lengths = rng.choice([n for n in range(1, width + 1) if n not in kept], rows.size)
    columns = np.arange(width)
    grown = np.where(chars[rows] != 0, chars[rows], rng.integers(ord("0"), ord("9") + 1, (rows.size, width)))
    chars[rows] = np.where(columns < new_lengths[:, None], grown, 0)
    return chars


def inserted(chars: np.ndarray, rows: np.ndarray, at: np.ndarray, characters: np.ndarray) -> np.ndarray:
    """The values, one column wider, with a character inserted at a position in some rows."""
    n, width = chars.shape
    out = np.zeros((n, width + 1), dtype=np.uint32)
    out[:, :width] = chars
    columns = np.arange(width + 1)
    source = np.where(columns > at[:, None], columns - 1, columns)
    shifted = np.take_along_axis(out[rows], source, axis=1)
    shifted[np.arange(rows.size), at] = characters
    out[rows] = shifted
    return out


def spaced(rng: np.random.Generator, chars: np.ndarray, share: float) -> np.ndarray:
    """A share of the values with a space or tab after one of their characters."""
    rows = some_rows(rng, len(chars), share)
    at = rng.integers(1, np.maximum(lengths_of(chars[rows]), 2))
    return inserted(chars, rows, at, rng.choice(INNER_SPACES, rows.size))


def padded(rng: np.random.Generator, chars: np.ndarray, share: float) -> np.ndarray:
    """A share of the values with spaces before, after or around them (ASCII, tab, ideographic,
    no-break); a few with nothing but a space."""
    n = len(chars)
    choice = rng.random(n)
    before = np.flatnonzero((choice < share / 3) | ((choice >= 2 * share / 3) & (choice < share)))
    chars = inserted(chars, before, np.zeros(before.size, dtype=np.int64), rng.choice(PADDING, before.size))
    after = np.flatnonzero((choice >= share / 3) & (choice < share))
    chars = inserted(chars, after, lengths_of(chars[after]), rng.choice(PADDING, after.size))
    blank = np.flatnonzero((choice >= share) & (choice < share * 1.05))
    chars[blank] = 0
    chars[blank, 0] = rng.choice(PADDING, blank.size)
    return chars


def line_ended(rng: np.random.Generator, chars: np.ndarray, share: float) -> np.ndarray:
    """A share of the values with a line break after them: LF, CRLF or CR, a third each."""
    rows = some_rows(rng, len(chars), share)
    kind = rng.integers(0, 3, rows.size)  # 0: LF, 1: CRLF, 2: CR
    carriage = rows[kind >= 1]
    chars = inserted(chars, carriage, lengths_of(chars[carriage]), np.full(carriage.size, CARRIAGE_RETURN, np.uint32))
    feed = rows[kind <= 1]
    return inserted(chars, feed, lengths_of(chars[feed]), np.full(feed.size, LINE_FEED, np.uint32))


def with_format_characters(rng: np.random.Generator, chars: np.ndarray, share: float) -> np.ndarray:
    """A share of the values with one invisible format character at their start, somewhere in the
    middle, or at their end, a third each."""
    rows = some_rows(rng, len(chars), share)
    lengths = lengths_of(chars[rows])
    where = rng.integers(0, 3, rows.size)
    middle = rng.integers(1, np.maximum(lengths, 2))
    at = np.where(where == 0, 0, np.where(where == 1, np.minimum(middle, lengths), lengths))
    return inserted(chars, rows, at, rng.choice(FORMAT_CHARACTERS, rows.size))


def lower_cased(rng: np.random.Generator, chars: np.ndarray, share: float) -> np.ndarray:
    rows = some_rows(rng, len(chars), share)
    part = chars[rows]
    chars[rows] = np.where((part >= ord("A")) & (part <= ord("Z")), part + 32, part)
    return chars


def fullwidth(rng: np.random.Generator, chars: np.ndarray, share: float) -> np.ndarray:
    """A share of the values typed in full width, wholly or from a random character on."""
    rows = some_rows(rng, len(chars), share)
    start = np.where(rng.random(rows.size) < 0.5, 0, rng.integers(0, 18, rows.size))
    part = chars[rows]
    ascii_from_start = (np.arange(chars.shape[1]) >= start[:, None]) & (part >= 0x21) & (part <= 0x7E)
    chars[rows] = np.where(ascii_from_start, part + FULLWIDTH_OFFSET, part)
    return chars


def resident_ids(rng: np.random.Generator, n: int) -> pa.Array:
    """ID numbers: 18 characters with right or wrong check characters, 15-digit numbers, possible
    and impossible birth dates, then corrupted, resized, spaced, lower-cased and full width."""
    legacy = rng.random(n) < 0.15
    impossible = rng.random(n) < 0.08
    division = np.where(rng.random(n) < 0.5, rng.choice(DIVISIONS, n), rng.integers(100_000, 1_000_000, n))
    born = np.where(impossible, impossible_dates(rng, n, 1900, 2025), birth_dates(rng, n, 1900, 2025))
    born = np.where(legacy, 19_000_000 + born % 1_000_000, born)  # legacy numbers: born 19xx
    body = np.concatenate([digits(division, 6), digits(born, 8), digits(rng.integers(0, 1000, n), 3)], axis=1)
    check = id_check_characters(body)
    check = np.where(rng.random(n) < 0.15, wrong_characters(rng, check, ID_CHARACTERS), check)
    chars = np.zeros((n, 21), dtype=np.uint32)
    chars[:, :17], chars[:, 17] = body, check
    chars[legacy, :15] = np.concatenate([body[legacy, :6], body[legacy, 8:17]], axis=1)
    chars[legacy, 15:] = 0
    chars = resized(rng, corrupted(rng, chars, 0.07), 0.07, kept=(15, 18))
    chars = lower_cased(rng, spaced(rng, chars, 0.04), 0.1)
    return as_text(delivered_oddly(rng, fullwidth(rng, chars, 0.08)))


def usccs(rng: np.random.Generator, n: int) -> pa.Array:
    """Credit codes: digit or letter authorities, right or wrong check characters, then corrupted,
    resized, spaced, dashed, lower-cased and full width."""
    authority = np.where(rng.random(n) < 0.1, rng.choice(code_points("ANY"), n), rng.choice(code_points("159"), n))
    entity_type = rng.choice(code_points("1239"), n)
    division = np.where(rng.random(n) < 0.5, rng.choice(DIVISIONS, n), rng.integers(100_000, 1_000_000, n))
    organisation = rng.choice(USCC_ALPHABET, (n, 9))
    body = np.concatenate([authority[:, None], entity_type[:, None], digits(division, 6), organisation], axis=1)
    check = uscc_check_characters(body)
    check = np.where(rng.random(n) < 0.15, wrong_characters(rng, check, USCC_ALPHABET), check)
    chars = np.zeros((n, 21), dtype=np.uint32)
    chars[:, :17], chars[:, 17] = body, check
    chars = resized(rng, corrupted(rng, chars, 0.1), 0.07, kept=(18,))
    dashed = some_rows(rng, n, 0.04)
    chars = inserted(chars, dashed, np.full(dashed.size, 8), np.full(dashed.size, ord("-"), dtype=np.uint32))
    chars = lower_cased(rng, spaced(rng, chars, 0.04), 0.05)
    return as_text(delivered_oddly(rng, fullwidth(rng, chars, 0.08)))


def delivered_oddly(rng: np.random.Generator, chars: np.ndarray) -> np.ndarray:
    """The values padded with spaces, some with format characters, some ending in a line break."""
    chars = with_format_characters(rng, padded(rng, chars, 0.06), 0.05)
    return line_ended(rng, chars, 0.05)


# ------------------------------------------------------------------ the reference: python-stdnum

STDNUM_REASONS = {InvalidLength: "bad_length", InvalidFormat: "bad_format", InvalidChecksum: "invalid_check_digit",
                  InvalidComponent: "invalid_birth_date"}


def normalised(delivered: str) -> str:
    """What the standards do before judging a number: format characters removed, full width
    folded, every space removed."""
    visible = "".join(char for char in delivered if unicodedata.category(char) != "Cf")
    return "".join(unicodedata.normalize("NFKC", visible).split())


def reference_resident_id(delivered: str | None) -> tuple[str | None, str | None]:
    number = normalised(delivered or "").upper()
    if not number:
        return None, "missing"
    if len(number) == 15:
        if not number.isascii() or not number.isdigit():
            return None, "bad_format"
        body = number[:6] + "19" + number[6:]
        number = body + ric.calc_check_digit(body + "?")
    try:
        return ric.validate(number), None
    except ValidationError as error:
        return None, STDNUM_REASONS[type(error)]


def reference_uscc(delivered: str | None) -> tuple[str | None, str | None]:
    number = normalised(delivered or "")
    if not number:
        return None, "missing"
    try:
        return uscc.validate(number), None
    except InvalidLength:  # a kind of InvalidFormat in stdnum
        return None, "bad_length"
    except InvalidFormat:
        return letter_authority_verdict(uscc.compact(number))
    except ValidationError as error:
        return None, STDNUM_REASONS[type(error)]


def letter_authority_verdict(number: str) -> tuple[str | None, str | None]:
    """stdnum's checks for a code whose registration authority is a letter (see the docstring)."""
    alphabet = uscc._alphabet
    if number[0].isdigit() or number[0] not in alphabet or number[17] not in alphabet:
        return None, "bad_format"
    with_digit = "9" + number[1:17]
    try:
        uscc.validate(with_digit + uscc.calc_check_digit(with_digit))
    except (InvalidFormat, ValueError):  # calc_check_digit fails on a character outside the alphabet
        return None, "bad_format"
    return (number, None) if number[17] == uscc.calc_check_digit(number) else (None, "invalid_check_digit")


def references(values: pa.Table) -> dict[str, list[tuple[str | None, str | None]]]:
    """stdnum's verdicts on every value, per element."""
    with mock.patch.object(ric, "get_birth_place", lambda number: {}):
        ids = [reference_resident_id(v) for v in values.column("resident_id").to_pylist()]
    return {"resident_id": ids, "uscc": [reference_uscc(v) for v in values.column("uscc").to_pylist()]}


# ------------------------------------------------------------------ the comparison


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> tuple[pa.Table, str]:
    rng = np.random.default_rng(SEED)
    table = pa.table({"position": pa.array(np.arange(VALUES)), "resident_id": resident_ids(rng, VALUES),
                      "uscc": usccs(rng, VALUES)})
    path = tmp_path_factory.mktemp("crosscheck") / "values.parquet"
    pq.write_table(table, path, row_group_size=VALUES // 4)
    return table, str(path)


@pytest.fixture(scope="module")
def compared(spark, drawn) -> dict[str, tuple[pa.Table, list]]:
    """Per element: the delivered values with Spark's verdicts, and stdnum's verdicts."""
    table, path = drawn
    with ThreadPoolExecutor(max_workers=1) as pool:
        # stdnum in this process's Python while Spark works in its JVM
        reference = pool.submit(references, table)
        frame = spark.read.parquet(path)
        results = frame.select("position", *[
            standardize(element, F.col(element)).alias(f"{element}_result") for element in ("resident_id", "uscc")
        ]).toArrow()
        expected = reference.result()
    results = results.take(pc.sort_indices(results, [("position", "ascending")]))
    return {element: (pa.table({"delivered": table.column(element),
                                "value": pc.struct_field(results.column(f"{element}_result"), "value"),
                                "error": pc.struct_field(results.column(f"{element}_result"), "error"),
                                "repaired": pc.struct_field(results.column(f"{element}_result"), "repaired")}),
                      expected[element])
            for element in ("resident_id", "uscc")}


def disagreements(results: pa.Table, expected: list) -> list[tuple]:
    """(delivered, Spark's verdict, stdnum's verdict) of every value they judge differently."""
    values = results.column("value").to_pylist()
    errors = results.column("error").to_pylist()
    return [(delivered, (value, error), reference)
            for delivered, value, error, reference in zip(results.column("delivered").to_pylist(), values, errors, expected)
            if (value, error) != reference]


@pytest.mark.parametrize("element", ["resident_id", "uscc"])
def test_agrees_with_stdnum_on_a_million_values(compared, element):
    results, expected = compared[element]
    assert results.num_rows == len(expected) == VALUES
    wrong = disagreements(results, expected)
    assert wrong[:20] == [], f"{len(wrong)} of {VALUES} values judged otherwise than stdnum"


@pytest.mark.parametrize("element", ["resident_id", "uscc"])
def test_the_mix_holds_every_verdict(compared, element):
    """The random values reach every rule: enough valid, repaired and faulty ones of each kind."""
    results, expected = compared[element]
    reasons = {"missing", "bad_length", "bad_format", "invalid_check_digit"}
    if element == "resident_id":
        reasons.add("invalid_birth_date")
    counts = pc.value_counts(results.column("error")).to_pylist()
    found = {entry["values"]: entry["counts"] for entry in counts}
    assert set(found) == reasons | {None}
    assert min(found.values()) >= VALUES // 1000
    assert found[None] >= VALUES // 5
    repaired = pc.sum(results.column("repaired")).as_py()
    assert VALUES // 20 <= repaired <= found[None] - VALUES // 20


@pytest.mark.parametrize("element", ["resident_id", "uscc"])
def test_the_mix_holds_line_breaks_and_format_characters(compared, element):
    """Each line break and format character reaches valid values as well as faulty ones, so the
    agreement with stdnum covers them; the format characters at the start, middle and end."""
    results, _ = compared[element]
    delivered, valid = results.column("delivered"), pc.is_valid(results.column("value"))
    characters = "".join(chr(code) for code in FORMAT_CHARACTERS)
    invisible, visible = f"[{characters}]", f"[^\\s{characters}]"
    spellings = {
        "LF": pc.and_(pc.ends_with(delivered, "\n"), pc.invert(pc.ends_with(delivered, "\r\n"))),
        "CRLF": pc.ends_with(delivered, "\r\n"),
        "CR": pc.ends_with(delivered, "\r"),
        "format character first": pc.match_substring_regex(delivered, f"^{invisible}"),
        "format character inside": pc.match_substring_regex(delivered, visible + invisible + visible),
        "format character last": pc.match_substring_regex(delivered, f"{invisible}[\\r\\n]*$"),
        **{f"U+{code:04X}": pc.match_substring(delivered, chr(code)) for code in FORMAT_CHARACTERS},
    }
    for name, spelled in spellings.items():
        assert pc.sum(pc.and_(spelled, valid)).as_py() >= VALUES // 1000, name
        assert pc.sum(pc.and_(spelled, pc.invert(valid))).as_py() >= VALUES // 1000, name


@pytest.mark.parametrize("element", ["resident_id", "uscc"])
def test_repaired_means_delivered_off_standard(compared, element):
    results, _ = compared[element]
    valid = results.filter(pc.is_valid(results.column("value")))
    off_standard = pc.not_equal(valid.column("delivered"), valid.column("value"))
    assert pc.all(pc.equal(valid.column("repaired"), off_standard)).as_py()
    invalid = results.filter(pc.is_null(results.column("value")))
    assert pc.all(pc.is_valid(invalid.column("error"))).as_py()
    assert not pc.any(invalid.column("repaired")).as_py()

"""Resident ID numbers (GB 11643) and unified social credit codes (GB 32100), unique by construction.

A person's ID number is region code + birth date + 3-digit sequence + check character. Persons
of one household group and role draw from their own *slot space*: every (region code, birth
date, sequence lane) combination that group and role may use, with more lanes in the birth years
where that role is common (an age pyramid). A keyed permutation maps the k-th person of the
group and role to a distinct slot, so no two persons can ever share a number, at any city size,
without a table of the numbers already given out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from citylake.catalog import Divisions
from synthetic import vocab
from synthetic.layout import (ID_CHILD, ID_ELDER, ID_HEAD, ID_PARENT_HEAD, ID_PARENT_SPOUSE, ID_ROLE_NAMES,
                                       ID_SPOUSE, N_CLASSES)
from synthetic.rng import Permutation

LANES = 499  # sequence = 2 * lane + 1 (men, odd) or 2 * lane + 2 (women, even): 001..998
# lanes per ID role, roughly in proportion to how many persons of the role a household pattern has
ROLE_LANES = {ID_HEAD: (0, 80), ID_SPOUSE: (80, 130), ID_PARENT_HEAD: (130, 245), ID_PARENT_SPOUSE: (245, 360),
              ID_CHILD: (360, 465), ID_ELDER: (465, LANES)}
# newborns of the simulated days are born after the start, when no resident was: all lanes are free
NEWBORN_LANES = (0, LANES)
MAX_AGE = 100

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHAR_VALUE = np.full(128, -1, dtype=np.int64)
for _value, _char in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    _CHAR_VALUE[ord(_char)] = _value
_USCC_VALUE = np.full(128, -1, dtype=np.int64)
for _value, _char in enumerate(USCC_ALPHABET):
    _USCC_VALUE[ord(_char)] = _value
_USCC_CHARS = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)


# ----------------------------------------------------------------------------- age pyramids


def _ramp(ages: np.ndarray, points: list[tuple[int, float]]) -> np.ndarray:
    xs, ys = zip(*points)
    return np.interp(ages, xs, ys, left=0.0, right=0.0)


def age_weights(id_role: int, kind: str) -> np.ndarray:
    """Relative frequency of each age 0..MAX_AGE for persons of an ID role (see layout.ID_ROLE_NAMES)."""
    ages = np.arange(MAX_AGE + 1, dtype=np.float64)
    if kind == "migrant":
        shapes = {
            ID_HEAD: [(18, 0), (21, 0.8), (26, 1), (35, 0.6), (45, 0.4), (55, 0.2), (62, 0)],
            ID_SPOUSE: [(18, 0), (20, 0.8), (25, 1), (34, 0.6), (44, 0.35), (54, 0.15), (60, 0)],
            ID_PARENT_HEAD: [(22, 0), (26, 0.6), (32, 1), (44, 1), (52, 0.4), (58, 0)],
            ID_PARENT_SPOUSE: [(20, 0), (24, 0.6), (30, 1), (42, 1), (50, 0.35), (56, 0)],
            ID_CHILD: [(0, 1), (12, 1), (17, 0.6), (22, 0.2), (24, 0)],
            ID_ELDER: [(52, 0), (58, 0.6), (65, 1), (75, 0.4), (82, 0)],
        }
    else:  # the city's own residents; Hong Kong, Macao and Taiwan residents alike
        shapes = {
            ID_HEAD: [(21, 0), (23, 0.6), (27, 1), (33, 0.6), (38, 0.15), (45, 0.1), (55, 0.5), (65, 1), (75, 0.9),
                      (85, 0.4), (95, 0.02), (96, 0)],
            ID_SPOUSE: [(20, 0), (22, 0.6), (26, 1), (32, 0.6), (37, 0.15), (44, 0.1), (54, 0.5), (64, 1), (74, 0.85),
                        (84, 0.35), (93, 0.02), (94, 0)],
            ID_PARENT_HEAD: [(24, 0), (28, 0.5), (34, 1), (48, 1), (56, 0.5), (64, 0.15), (70, 0)],
            ID_PARENT_SPOUSE: [(22, 0), (26, 0.5), (32, 1), (46, 1), (54, 0.4), (62, 0.1), (68, 0)],
            ID_CHILD: [(0, 0.9), (5, 1), (17, 1), (22, 0.6), (28, 0.25), (34, 0.05), (36, 0)],
            ID_ELDER: [(55, 0), (60, 0.5), (70, 1), (80, 0.75), (90, 0.25), (100, 0.01)],
        }
    assert set(shapes) == set(range(len(ID_ROLE_NAMES)))
    return _ramp(ages, shapes[id_role])


# ----------------------------------------------------------------------------- slot spaces


@dataclass(frozen=True)
class Cells:
    """The (region code, birth year) cells of a slot space, with the sequence lanes each offers."""

    codes: np.ndarray       # 6-digit region code
    year_start: np.ndarray  # days since 1970 of January 1
    days: np.ndarray        # birth dates available in the year (fewer in the start year)
    lane0: np.ndarray
    lanes: np.ndarray

    def used(self) -> Cells:
        keep = (self.lanes > 0) & (self.days > 0)
        return Cells(*(getattr(self, f)[keep] for f in ("codes", "year_start", "days", "lane0", "lanes")))


class SlotSpace:
    """The ID numbers one group (a district's residents, migrants, overseas residents) and one
    person class (ID role x gender) may receive; slot k of the permutation is the k-th person's."""

    def __init__(self, cells: Cells, seed: int, name: str) -> None:
        if cells.codes.size == 0:
            raise ValueError(f"ID slot space {name} is empty")
        self.name = name
        self.codes, self.year_start, self.lane0, self.lanes = cells.codes, cells.year_start, cells.lane0, cells.lanes
        self.offsets = np.concatenate([[0], np.cumsum(cells.days * cells.lanes)]).astype(np.int64)
        self.size = int(self.offsets[-1])
        self._permutation = Permutation(self.size, seed, f"id-slots/{name}")

    def slots(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Region code, birth date (days since 1970) and lane of the k-th persons."""
        if k.size and k.max() >= self.size:
            raise ValueError(f"ID slot space {self.name} holds {self.size} persons, asked for #{int(k.max())}: "
                             "the city is too large for its divisions' ID number space")
        slot = self._permutation.forward(k)
        cell = np.searchsorted(self.offsets, slot, side="right") - 1
        offset = slot - self.offsets[cell]
        lanes = self.lanes[cell]
        return self.codes[cell], self.year_start[cell] + offset // lanes, self.lane0[cell] + offset % lanes


class IdNumbers:
    """All slot spaces of a city: one per (district | migrant | overseas) x person class."""

    def __init__(self, divisions: Divisions, start: date, seed: int) -> None:
        self.start = start
        self.seed = seed
        self.divisions = divisions
        self._spaces: dict[tuple[str, int], SlotSpace] = {}
        self.years = np.arange(start.year - MAX_AGE, start.year + 1)
        self.ages = start.year - self.years
        january = np.array([f"{y:04d}-01-01" for y in range(self.years[0], self.years[-1] + 2)], dtype="datetime64[D]")
        # birth dates before the start only: nobody living at the start was born after it
        ends = np.minimum(january[1:], np.datetime64(start.isoformat(), "D"))
        self.year_start = january[:-1].astype(np.int64)
        self.days = np.maximum(0, (ends - january[:-1]).astype(np.int64))
        self._district_years = self._codes_and_shares()

    def _codes_and_shares(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per district and birth year: the ID code, and the share of that code's lanes the district
        gets (from, to) - districts issuing under one code share it by population (晋江 and 石狮
        under 352422)."""
        years = self.years.tolist()
        codes = {d.code: [d.id_code_for_year(y) for y in years] for d in self.divisions.districts}
        out = {}
        for district in self.divisions.districts:
            low, high = [], []
            for index, code in enumerate(codes[district.code]):
                sharers = [d for d in self.divisions.districts if codes[d.code][index] == code]
                total = sum(d.population for d in sharers)
                before = sum(d.population for d in sharers[:sharers.index(district)])
                low.append((before, total))
                high.append((before + district.population, total))
            out[district.code] = (np.array([int(c) for c in codes[district.code]]),
                                  np.array(low, dtype=np.int64), np.array(high, dtype=np.int64))
        return out

    def check_capacity(self, layout, extra_migrant_heads: int, overseas: np.ndarray) -> None:
        """Fail early, and clearly, when a city is too large for its divisions' ID number space:
        every group and class needs a slot for each person of its index range."""
        counts = [layout.persons_of_class_before(np.arange(N_CLASSES), np.full(N_CLASSES, p))
                  for p in layout.district_first_person]
        city_wide = counts[-1] - counts[0]
        for number, district in enumerate(layout.districts):
            for person_class in range(N_CLASSES):
                self._check(district.code, person_class, int(counts[number + 1][person_class] - counts[number][person_class]))
        for person_class in range(N_CLASSES):
            arrivals = extra_migrant_heads if person_class // 2 == ID_HEAD else 0
            self._check("migrant", person_class, int(city_wide[person_class]) + arrivals)
            self._check("overseas", person_class, int(overseas[person_class]))

    def _check(self, group: str, person_class: int, needed: int) -> None:
        size = self.space(group, person_class).size
        if needed > size:
            role = ID_ROLE_NAMES[person_class // 2]
            raise ValueError(f"the city is too large for its ID numbers: {group}'s {role} role "
                             f"({'men' if person_class % 2 == 0 else 'women'}) needs {needed:,} numbers, "
                             f"the division codes and birth years give {size:,}")

    def space(self, group: str, person_class: int) -> SlotSpace:
        key = (group, person_class)
        if key not in self._spaces:
            self._spaces[key] = SlotSpace(self._cells(group, person_class).used(), self.seed, f"{group}/{person_class}")
        return self._spaces[key]

    def _cells(self, group: str, person_class: int) -> Cells:
        role = person_class // 2  # the ID role
        first, last = ROLE_LANES[role]
        span = last - first
        weights = age_weights(role, "migrant" if group == "migrant" else "local")[self.ages]
        if group in ("migrant", "overseas"):
            regions = vocab.MIGRANT_COUNTIES if group == "migrant" else vocab.OVERSEAS_CODES
            top = max(region[2] for region in regions)
            parts = [Cells(np.full(self.years.size, int(code)), self.year_start, self.days,
                           np.full(self.years.size, first), np.rint(span * weights * weight / top).astype(np.int64))
                     for code, _, weight, *_ in regions]
            return Cells(*(np.concatenate([getattr(p, f) for p in parts])
                           for f in ("codes", "year_start", "days", "lane0", "lanes")))
        codes, low, high = self._district_years[group]
        lane0 = first + span * low[:, 0] // low[:, 1]
        available = first + span * high[:, 0] // high[:, 1] - lane0
        return Cells(codes, self.year_start, self.days, lane0, np.rint(available * weights).astype(np.int64))


# ----------------------------------------------------------------------------- formatting


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (np.asarray(values, dtype=np.int64)[:, None] // powers) % 10


def _ymd(days: np.ndarray) -> np.ndarray:
    dates = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    months = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    return years * 10000 + months * 100 + day


def id_check_chars(body: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11-2 check characters (as ASCII codes) of an (n, 17) digit matrix."""
    return _ID_CHECK[(body * _ID_WEIGHTS).sum(axis=1) % 11]


def resident_ids(codes: np.ndarray, birth_days: np.ndarray, sequences: np.ndarray) -> pa.Array:
    """18-character ID numbers from region codes, birth dates (days since 1970) and sequences."""
    n = len(codes)
    if n == 0:
        return pa.array([], pa.string())
    body = np.concatenate([_digits(codes, 6), _digits(_ymd(birth_days), 8), _digits(sequences, 3)], axis=1)
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, :17] = body + 48
    chars[:, 17] = id_check_chars(body)
    return pa.array(chars.view("S18").ravel(), pa.binary(18)).cast(pa.string())


def sequence_numbers(lanes: np.ndarray, genders: np.ndarray) -> np.ndarray:
    """3-digit sequence: odd for men (gender 0), even for women (gender 1)."""
    return 2 * lanes + 1 + genders


def organisation_codes(numbers: np.ndarray, new_style: np.ndarray, seed: int) -> np.ndarray:
    """9-character organisation codes (GB 11714) as an (n, 9) ASCII matrix, unique per number.

    Entities registered before the 2015 reform kept their old 8-digit codes; newer ones got codes
    assigned by the registration system, starting with MA.
    """
    n = len(numbers)
    chars = np.empty((n, 9), dtype=np.uint8)
    old = ~new_style
    if old.any():
        digits = Permutation(10 ** 8, seed, "org-code/old").forward(numbers[old])
        chars[old, :8] = _digits(digits, 8) + 48
    if new_style.any():
        value = Permutation(31 ** 6, seed, "org-code/new").forward(numbers[new_style])
        places = (value[:, None] // (31 ** np.arange(5, -1, -1, dtype=np.int64))) % 31
        chars[new_style, 0] = ord("M")
        chars[new_style, 1] = ord("A")
        chars[new_style, 2:8] = _USCC_CHARS[places]
    values = _CHAR_VALUE[chars[:, :8]]
    check = 11 - (values * _ORG_WEIGHTS).sum(axis=1) % 11
    chars[:, 8] = np.where(check == 10, ord("X"), np.where(check == 11, ord("0"), check + 48))
    return chars


def usccs(kind: np.ndarray, division_codes: np.ndarray, organisation: np.ndarray) -> pa.Array:
    """18-character unified social credit codes: 2-digit kind (91, 92, ...), division, org code, check."""
    n = len(kind)
    if n == 0:
        return pa.array([], pa.string())
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, :2] = _digits(kind, 2) + 48
    chars[:, 2:8] = _digits(division_codes, 6) + 48
    chars[:, 8:17] = organisation
    total = (_USCC_VALUE[chars[:, :17]] * _USCC_WEIGHTS).sum(axis=1)
    chars[:, 17] = _USCC_CHARS[(31 - total % 31) % 31]
    return pa.array(chars.view("S18").ravel(), pa.binary(18)).cast(pa.string())


def legacy_id(id_number: str) -> str:
    """The 15-digit number an 18-digit one replaced (born 19xx): no century, no check character."""
    return id_number[:6] + id_number[8:17]


def id_check_char(body17: str) -> str:
    digits = np.array([[int(c) for c in body17]], dtype=np.int64)
    return chr(int(id_check_chars(digits)[0]))


def uscc_check_char(body17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * int(w) for c, w in zip(body17, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def wrong_check(value: str, element: str) -> str:
    """The same number with a check character that fits neither standard it could be read by
    (an all-digit credit code looks like an ID number, so a party's number is checked as both)."""
    body = value[:-1]
    right = set()
    if len(body) == 17 and body.isdigit():
        right.add(id_check_char(body))
    if len(body) == 17 and all(c in USCC_ALPHABET for c in body):
        right.add(uscc_check_char(body))
    alphabet = "0123456789X" if element == "resident_id" else USCC_ALPHABET
    start = (alphabet.index(value[-1]) + 1) if value[-1] in alphabet else 0
    for step in range(len(alphabet)):
        candidate = alphabet[(start + step) % len(alphabet)]
        if candidate not in right and candidate != value[-1]:
            return body + candidate
    raise ValueError(f"no wrong check character for {value!r}")

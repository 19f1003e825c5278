"""Resident ID numbers (GB 11643), unified social credit codes (GB 32100) and a party's number:
one value per rule. The same checks are cross-checked against python-stdnum on a million random
values in test_identifiers_crosscheck.py."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.spark

VALID_ID = "11010519491231002X"          # check characters computed with stdnum.cn.ric
VALID_USCC = "91110000600037341L"        # stdnum.cn.uscc's own example


def test_resident_id_in_standard_form_is_kept(verdicts):
    assert verdicts("resident_id", [VALID_ID, "350524198001010011", "810000199408230021"]) == {
        VALID_ID: (VALID_ID, None, False),
        "350524198001010011": ("350524198001010011", None, False),
        # a Hong Kong resident's residence permit number: the same layout, division code 810000
        "810000199408230021": ("810000199408230021", None, False),
    }


def test_resident_id_variants_are_repaired(verdicts):
    repaired = (VALID_ID, None, True)
    assert verdicts("resident_id", [
        "11010519491231002x",                       # lower-case check character
        "１１０１０５１９４９１２３１００２Ｘ",         # full-width digits and letter
        "１１０１０５１９４９１２３１００２ｘ",
        " 11010519491231002X",                      # stray spaces, ASCII and ideographic
        "11010519491231002X\u3000",
        "110105 19491231 002X",
        "\t11010519491231002X\u00a0",
        "110105491231002",                          # the 15-digit number it replaced
        " １１０１０５４９１２３１００２ ",
    ]) == {
        "11010519491231002x": repaired, "１１０１０５１９４９１２３１００２Ｘ": repaired,
        "１１０１０５１９４９１２３１００２ｘ": repaired, " 11010519491231002X": repaired,
        "11010519491231002X\u3000": repaired, "110105 19491231 002X": repaired,
        "\t11010519491231002X\u00a0": repaired, "110105491231002": repaired,
        " １１０１０５４９１２３１００２ ": repaired,
    }


def test_resident_id_faults_are_named(verdicts):
    assert verdicts("resident_id", [
        None, "", "   ", "\u3000",
        "1101051949123100", "11010519491231002X1", "11010549123100",
        "1101051949123100AX", "11010549123100A", "110105-19491231-002X",
        "110105194912310021", "11010519491231002A",
        "350502199002300017", "350502900230001", "000000000000000001",
    ]) == {
        None: (None, "missing", False), "": (None, "missing", False), "   ": (None, "missing", False),
        "\u3000": (None, "missing", False),
        "1101051949123100": (None, "bad_length", False),
        "11010519491231002X1": (None, "bad_length", False),
        "11010549123100": (None, "bad_length", False),
        "1101051949123100AX": (None, "bad_format", False),
        "11010549123100A": (None, "bad_format", False),      # 15 characters, but not a legacy number
        "110105-19491231-002X": (None, "bad_length", False),  # dashes are not removed (nor by stdnum)
        "110105194912310021": (None, "invalid_check_digit", False),
        "11010519491231002A": (None, "invalid_check_digit", False),  # as stdnum: a wrong check character
        "350502199002300017": (None, "invalid_birth_date", False),   # 30 February, with a right check
        "350502900230001": (None, "invalid_birth_date", False),      # the same, as a legacy number
        "000000000000000001": (None, "invalid_birth_date", False),   # year 0, month 0, right check
    }


def test_uscc(verdicts):
    assert verdicts("uscc", [
        VALID_USCC, "91110000600037341l", " 9111-0000-6000-3734-1L ", "91110000 600037341L",
        "９１１１００００６０００３７３４１Ｌ",
        "N2350521MA3489FJ0R", "Y1350500MA8UUL5N9B",
        None, "", "9111000060003734", "91110000600037341LL",
        "91110000600037341M", "9111000060003734IL", "91110000600037341I", "9A110000600037341L",
        "911100O0600037341L",
    ]) == {
        VALID_USCC: (VALID_USCC, None, False),
        "91110000600037341l": (VALID_USCC, None, True),
        " 9111-0000-6000-3734-1L ": (VALID_USCC, None, True),
        "91110000 600037341L": (VALID_USCC, None, True),
        "９１１１００００６０００３７３４１Ｌ": (VALID_USCC, None, True),
        # registration authorities with a letter: N agriculture, Y other (check characters by stdnum)
        "N2350521MA3489FJ0R": ("N2350521MA3489FJ0R", None, False),
        "Y1350500MA8UUL5N9B": ("Y1350500MA8UUL5N9B", None, False),
        None: (None, "missing", False),
        "": (None, "missing", False),
        "9111000060003734": (None, "bad_length", False),
        "91110000600037341LL": (None, "bad_length", False),
        "91110000600037341M": (None, "invalid_check_digit", False),
        "9111000060003734IL": (None, "bad_format", False),   # I, O, S, V, Z are never used
        "91110000600037341I": (None, "bad_format", False),
        "9A110000600037341L": (None, "bad_format", False),   # the entity type is a digit
        "911100O0600037341L": (None, "bad_format", False),   # the division code is digits
    }


def test_party_id_is_a_person_or_an_organisation(verdicts):
    assert verdicts("party_id", [
        VALID_ID, "110105491231002", VALID_USCC, " 91110000600037341l", "913505001234567841",
        "110105194912310021", "91110000600037341M", "abc", None,
    ]) == {
        VALID_ID: (VALID_ID, None, False),
        "110105491231002": (VALID_ID, None, True),
        VALID_USCC: (VALID_USCC, None, False),
        " 91110000600037341l": (VALID_USCC, None, True),
        # all digits, but no ID number (no birth date in it): a valid credit code
        "913505001234567841": ("913505001234567841", None, False),
        "110105194912310021": (None, "invalid_check_digit", False),  # judged as the ID number it looks like
        "91110000600037341M": (None, "invalid_check_digit", False),  # judged as a credit code
        "abc": (None, "bad_length", False),
        None: (None, "missing", False),
    }

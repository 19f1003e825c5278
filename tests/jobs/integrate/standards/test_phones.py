"""Mobile and landline numbers from the ways people write them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.spark

MOBILE = "13912345678"


def test_mobile_numbers(verdicts):
    repaired = (MOBILE, None, True)
    assert verdicts("phone", [
        MOBILE, "+86 139 1234 5678", "+8613912345678", "0086-139-1234-5678", "8613912345678", "139-1234-5678",
        "１３９１２３４５６７８", " 13912345678", "(+86)13912345678",
        "1391234567", "139123456789", "12912345678", "1391234567x", "tel:13912345678",
    ]) == {
        MOBILE: (MOBILE, None, False), "+86 139 1234 5678": repaired, "+8613912345678": repaired,
        "0086-139-1234-5678": repaired, "8613912345678": repaired, "139-1234-5678": repaired,
        "１３９１２３４５６７８": repaired, " 13912345678": repaired, "(+86)13912345678": repaired,
        "1391234567": (None, "bad_length", False), "139123456789": (None, "bad_length", False),
        "12912345678": (None, "bad_format", False),    # no mobile network's prefix
        "1391234567x": (None, "bad_format", False), "tel:13912345678": (None, "bad_format", False),
    }


def test_landline_numbers(verdicts):
    assert verdicts("phone", [
        "0595-22345678", "010-12345678", "0595-2234567", "059522345678", "(0595)22345678", "0595 2234 5678",
        "+86 595 22345678", "+86 10 12345678", "+86 0595 22345678", "010 1234 5678",
        "05952234", "0595223456789", "22345678", None, "",
    ]) == {
        "0595-22345678": ("0595-22345678", None, False), "010-12345678": ("010-12345678", None, False),
        "0595-2234567": ("0595-2234567", None, False),
        "059522345678": ("0595-22345678", None, True), "(0595)22345678": ("0595-22345678", None, True),
        "0595 2234 5678": ("0595-22345678", None, True),
        # after the country code the area code loses its trunk 0, and gets it back
        "+86 595 22345678": ("0595-22345678", None, True), "+86 10 12345678": ("010-12345678", None, True),
        "+86 0595 22345678": ("0595-22345678", None, True),
        "010 1234 5678": ("010-12345678", None, True),
        "05952234": (None, "bad_length", False), "0595223456789": (None, "bad_length", False),
        "22345678": (None, "bad_format", False),   # a local number without its area code
        None: (None, "missing", False), "": (None, "missing", False),
    }

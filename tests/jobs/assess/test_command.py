"""`citylake assess`: its month argument, read as the month's first day; a bad one refused by the
parser (exit 2) before anything starts."""

from datetime import date

import pytest

from citylake.cli import build_parser


def test_the_month_is_read_as_its_first_day():
    args = build_parser().parse_args(["assess", "--month", "2026-03"])
    assert (args.month, args.force) == (date(2026, 3, 1), False)
    assert build_parser().parse_args(["assess", "--force"]).month is None


def test_a_month_that_is_not_yyyy_mm_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["assess", "--month", "2026-13"])
    assert exit_.value.code == 2
    assert "'2026-13' is not a month like 2026-03" in capsys.readouterr().err

"""Reply deadlines of share requests, in China's working days."""

from datetime import date

from jobs.share.requests import add_working_days, is_working_day


def test_working_days_skip_weekends_and_holidays():
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)  # 国庆 holidays in between
    assert add_working_days(date(2026, 12, 4), 1) == date(2026, 12, 7)  # Friday -> Monday
    assert add_working_days(date(2026, 12, 7), 0) == date(2026, 12, 7)
    assert add_working_days(date(2027, 1, 8), 1) == date(2027, 1, 11)  # beyond the calendar: Monday to Friday


def test_adjusted_weekends_are_working_days():
    assert is_working_day(date(2026, 9, 20))  # a Sunday worked for the National Day holidays (调休)
    assert not is_working_day(date(2026, 9, 19))  # the Saturday before it
    assert add_working_days(date(2026, 9, 18), 1) == date(2026, 9, 20)

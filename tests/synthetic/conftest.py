from __future__ import annotations

from datetime import date

import pytest

from synthetic import generate_city

SMALL = {"persons": 1500, "days": 30, "seed": 7, "start": date(2026, 1, 1)}


@pytest.fixture(scope="session")
def small_city(tmp_path_factory):
    """A small city over 30 days: every resource, every kind of fault."""
    out = tmp_path_factory.mktemp("city")
    summary = generate_city(out, progress=False, **SMALL)
    return out, summary

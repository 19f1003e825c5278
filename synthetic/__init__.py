"""The synthetic city: every department's deliveries for a city of N persons, with ground truth
and the early-warning scenarios planted in it.

    from synthetic import generate_city
    summary = generate_city(Path("var/city"), persons=2000, days=30, seed=42, start=date(2026, 1, 1))
"""

from synthetic.generator import DEFAULT_START, CitySummary, generate_city
from synthetic.model import CityModel, Count, FaultRates, Scenarios

__all__ = ["CityModel", "CitySummary", "Count", "DEFAULT_START", "FaultRates", "Scenarios", "generate_city"]

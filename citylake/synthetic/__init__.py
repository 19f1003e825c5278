"""The synthetic city: every department's deliveries for a city of N persons, with ground truth.

    from citylake.synthetic import generate_city
    summary = generate_city(Path("var/city"), persons=2000, days=30, seed=42, start=date(2026, 1, 1))
"""

from citylake.synthetic.generator import DEFAULT_START, CitySummary, generate_city
from citylake.synthetic.model import CityModel, FaultRates

__all__ = ["CityModel", "CitySummary", "DEFAULT_START", "FaultRates", "generate_city"]

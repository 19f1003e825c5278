"""The knobs of the synthetic city: demographic and economic rates, the fault rates, and the
early-warning scenarios planted in it.

Defaults describe a Quanzhou-like city at the scale of its real figures (about 0.16 legal
entities per person, 2.5 persons per occupied home); every rate is per year unless named
otherwise, and every one can be changed per call of `generate_city`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CityModel:
    overseas_share: float = 0.004          # households of Hong Kong, Macao and Taiwan residents
    separated_share: float = 0.08          # 人户分离: registered at another address than lived at
    employment_local: float = 0.62         # of registered residents aged 18-59
    employment_migrant: float = 0.85       # of migrants aged 18-59
    enterprises_per_person: float = 0.158  # Shenzhen: 2.9 million legal entities, 18.4 million people
    staffed_share: float = 0.55            # active enterprises with insured employees
    owner_occupied_share: float = 0.75     # registered residents' homes owned by the household head
    birth_rate: float = 0.0085
    death_rate: float = 0.007
    # deaths of the years before the start that the departments still hold records of (a
    # cancelled registration, terminated insurance, a death certificate): at `death_rate`, tripled
    # for those aged 60 or more - a synthetic mortality, high for the young, so that a small city
    # has a few deceased insured persons to cross-check
    death_record_years: float = 5.0
    move_rate: float = 0.05                # moves within the city
    domicile_follows_move: float = 0.6     # movers who also transfer their household registration
    emigration_rate: float = 0.01          # moves out of the city
    arrival_rate: float = 0.04             # new migrants, per migrant
    job_change_rate: float = 0.08
    job_loss_rate: float = 0.03
    grid_visit_rate: float = 0.5           # re-verifications by grid workers
    property_transfer_rate: float = 0.03
    enterprise_birth_rate: float = 0.10
    enterprise_closure_rate: float = 0.04
    enterprise_change_rate: float = 0.05   # address, capital or representative updates
    license_rate: float = 0.30             # new licences per enterprise
    license_renewal_rate: float = 0.10
    penalty_rate: float = 0.05             # new penalties per enterprise
    grid_event_rate: float = 0.25          # events reported per person
    troubled_share: float = 0.04           # enterprises that pay their taxes late or partly
    tax_history_months: int = 12           # periods in the initial tax extract

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class FaultRates:
    """How often each kind of fault is injected. Row faults are shares of the rows a fault can
    apply to; package faults are on (True) or off."""

    invalid_check_digit: float = 0.004
    legacy_15_digit_id: float = 0.004
    fullwidth_digits: float = 0.004
    stray_spaces: float = 0.004
    date_format: float = 0.01
    gender_variant: float = 0.01
    ethnicity_variant: float = 0.01
    # cross-department conflicts (关联比对): a department's record is wrong in its own system, so
    # the wrong value is in every delivery of the record. Each a share of the eligible records
    # (see conflicts.py for what is eligible); rare eligible records get higher rates.
    name_mismatch: float = 0.006           # of persons, per department holding them (hrss, grid, health, hcb)
    birth_date_mismatch: float = 0.06      # of birth certificates
    deceased_not_registered: float = 0.4   # of deceased registered residents: psb never records the death
    insured_after_death: float = 0.6       # of deceased insured persons: hrss never terminates the insurance
    employer_deregistered: float = 0.01    # of steadily insured persons: hrss holds a deregistered employer
    unknown_residence_unit: float = 0.01   # of persons seen by grid workers: a unit code hcb does not have
    taxpayer_name_mismatch: float = 0.04   # of taxpayers: tax holds another name
    legal_rep_name_mismatch: float = 0.1   # of persons, as legal representatives: amr holds another name
    duplicate_row: float = 0.003
    unknown_division_code: float = 0.003
    missing_required: float = 0.003
    unparseable_row: float = 0.002
    late_row: float = 0.10                 # of incremental updates, re-sent stale in a later batch
    replay: bool = True
    conflicting_replay: bool = True
    sequence_gap: bool = True
    truncated_file: bool = True
    district_missing: bool = True
    # quarantined rows may use at most this share of a batch's quarantine limit, so that
    # injected faults never push a batch over its limit (which would reject it instead)
    quarantine_budget: float = 0.5

    def as_dict(self) -> dict[str, float | bool]:
        return asdict(self)

    @classmethod
    def none(cls) -> FaultRates:
        """A clean city: no faults at all."""
        values = {name: (False if isinstance(value, bool) else 0.0) for name, value in asdict(cls()).items()}
        values["quarantine_budget"] = 0.5
        return cls(**values)


@dataclass(frozen=True)
class Count:
    """How many of a planted scenario a city gets: `per_million` per million persons, never fewer
    than `at_least`."""

    at_least: int = 0
    per_million: float = 0.0

    def of(self, persons: int) -> int:
        return max(self.at_least, round(self.per_million * persons / 1_000_000))


@dataclass(frozen=True)
class Scenarios:
    """The early-warning scenarios planted in the city (scenarios.py), each recorded in
    truth/scenarios.parquet; a scenario the city's days cannot show is left out and said so."""

    # enterprises with 6 or more insured staff who lose a share of them at the last month start
    # of the days (social insurance 减员 effective on the 1st) and pay only part of their taxes
    distressed_enterprises: Count = Count(2, 2000)
    staff_lost: tuple[float, float] = (0.4, 0.75)
    # streets whose young households swap homes with elderly ones from elsewhere until the 65+
    # share is over `ageing_share`
    ageing_streets: Count = Count(1)
    ageing_share: float = 0.42
    # streets with a burst of grid events on one day `surge_days_before_end` days before the end
    surge_streets: Count = Count(1)
    surge_events: tuple[int, int] = (15, 25)
    surge_days_before_end: int = 3
    # empty homes rented out to young migrants (群租), so many persons per unit
    overcrowded_units: Count = Count(3, 1000)
    crowd_size: tuple[int, int] = (8, 12)
    # registered households living elsewhere, their registered home left empty (人户分离)
    empty_registered_units: Count = Count(1, 200)
    # a resource that stops delivering this many days before the end
    stopped_resource: str | None = "amr.administrative_license"
    stop_days: int = 5
    # a daily resource that pauses this many days before the end, then delivers the backlog late
    late_resource: str | None = "grid.event"
    pause_days: int = 4

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def none(cls) -> Scenarios:
        """A city without planted scenarios."""
        return cls(distressed_enterprises=Count(), ageing_streets=Count(), surge_streets=Count(),
                   overcrowded_units=Count(), empty_registered_units=Count(), stopped_resource=None,
                   late_resource=None)


DEFAULT_MODEL = CityModel()
DEFAULT_FAULTS = FaultRates()
DEFAULT_SCENARIOS = Scenarios()

"""Trino query latency with and without the access rules, on the same queries, server and user.

Runs against the profile's running Trino (`citylake trino start`, e.g. after `make demo`): each
query runs as a district user (row filter and masks) and as an analyst (masks) under the generated
rules, then under rules that allow everything (the rules file swapped, Trino re-reads it within its
refresh period), then the generated rules are written back. Prints the median latencies and ratios.

    .venv/bin/python benchmarks/trino_security.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from citylake.settings import profile
from citylake.trino import client, security

QUERIES = {
    "count": "SELECT count(*) FROM lake.base.legal_entity",
    "masked columns": "SELECT legal_rep_name, legal_rep_id_number, address FROM lake.base.legal_entity",
    "group by a masked column": "SELECT legal_rep_name, count(*) FROM lake.base.legal_entity GROUP BY 1",
    "join": ("SELECT b.street_name, count(*) FROM lake.base.legal_entity e "
             "JOIN lake.base.street b ON e.street_code = b.street_code GROUP BY 1"),
    "theme aggregate": "SELECT district_name, sum(persons) FROM lake.theme.population_structure GROUP BY 1",
}
USERS = ("demo_analyst", "demo_district")
ALLOW_ALL = {"catalogs": [{"allow": "all"}]}


def median_latency(settings, user: str, sql: str, runs: int) -> float:
    """Median wall time of one statement (results fetched), after one warm-up run."""
    timings = []
    with client.connect(settings, user) as connection:
        cursor = connection.cursor()
        for run in range(runs + 1):
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            if run:
                timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def measure(settings, runs: int) -> dict[tuple[str, str], float]:
    return {(user, name): median_latency(settings, user, sql, runs) for user in USERS for name, sql in QUERIES.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    settings = profile()
    rules = security.files_for(settings).rules
    security.refresh(settings)
    time.sleep(3)
    with_rules = measure(settings, args.runs)
    rules.write_text(json.dumps(ALLOW_ALL))
    try:
        time.sleep(3)  # Trino re-reads the rules within its refresh period
        without = measure(settings, args.runs)
    finally:
        security.refresh(settings)
    print(f"{'user':<15} {'query':<28} {'with rules ms':>14} {'without ms':>11} {'ratio':>6}")
    for key, latency in with_rules.items():
        print(f"{key[0]:<15} {key[1]:<28} {latency * 1000:>14.1f} {without[key] * 1000:>11.1f} "
              f"{latency / without[key]:>6.2f}")
    total = sum(with_rules.values()) / sum(without.values())
    print(f"all queries: with rules / without = {total:.2f}")


if __name__ == "__main__":
    main()

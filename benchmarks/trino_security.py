"""Trino query latency with and without the access rules, on the same queries, server and user.

Runs against the profile's running Trino (`citylake trino start`, e.g. after `make demo`): each
query runs as a district user (row filter and masks) and as an analyst (masks) under the generated
rules, then under rules that allow everything (the rules file swapped, Trino re-reads it within its
refresh period), then the generated rules are written back. Prints the median latencies and ratios.

    .venv/bin/python benchmarks/trino_security.py [--runs 5] [--rounds 4]
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


def use_rules(settings, generated: bool) -> None:
    """The generated rules, or rules that allow everything; Trino re-reads them within its refresh period."""
    if generated:
        security.refresh(settings)
    else:
        security.files_for(settings).rules.write_text(json.dumps(ALLOW_ALL))
    time.sleep(3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each query per round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, each with then without the rules")
    args = parser.parse_args()
    settings = profile()
    timings: dict[bool, list[dict[tuple[str, str], float]]] = {True: [], False: []}
    try:
        # alternating rounds, so that a change in the machine's load falls on both sides alike
        for _ in range(args.rounds):
            for generated in (True, False):
                use_rules(settings, generated)
                timings[generated].append(measure(settings, args.runs))
    finally:
        use_rules(settings, True)
    with_rules = {key: statistics.median(t[key] for t in timings[True]) for key in timings[True][0]}
    without = {key: statistics.median(t[key] for t in timings[False]) for key in timings[False][0]}
    print(f"{'user':<15} {'query':<28} {'with rules ms':>14} {'without ms':>11} {'ratio':>6}")
    for key, latency in with_rules.items():
        print(f"{key[0]:<15} {key[1]:<28} {latency * 1000:>14.1f} {without[key] * 1000:>11.1f} "
              f"{latency / without[key]:>6.2f}")
    total = sum(with_rules.values()) / sum(without.values())
    print(f"all queries: with rules / without = {total:.2f}")


if __name__ == "__main__":
    main()

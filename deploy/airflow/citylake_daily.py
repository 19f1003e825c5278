"""An Airflow DAG for a cluster whose scheduler is Airflow: the daily run of `conf/schedule.yml`
(the same cron, time zone, steps, order and retries as `citylake scheduler`), one task per step,
each `citylake run --step <step>` under the DAG run's own run id, so the run ledger groups them.

Deploy: put this file in Airflow's dags folder on workers that have citylake installed (the cluster
image) with `CITYLAKE_PROFILE` and `CITYLAKE_CONF` set; `CITYLAKE_BIN` names the command if it is not
on PATH."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

from citylake.schedule import load_daily_run

CITYLAKE = os.environ.get("CITYLAKE_BIN", "citylake")
daily = load_daily_run()

with DAG(
    dag_id="citylake_daily",
    description="citylake's daily run: land, integrate, base, theme, warn, catalog, audit, dashboards",
    schedule=daily.schedule.cron,
    start_date=datetime(2026, 1, 1, tzinfo=ZoneInfo(daily.schedule.time_zone)),
    catchup=False,
    max_active_runs=1,  # the lake's lock refuses a second run anyway
    tags=["citylake"],
) as dag:
    previous = None
    for declared in daily.steps:
        task = BashOperator(
            task_id=declared.name,
            bash_command=f"{CITYLAKE} run --step {declared.name} --date {{{{ ds }}}} --run-id {{{{ ds }}}}.airflow",
            retries=0,  # `citylake run` retries a step as conf/schedule.yml declares; Airflow must not again
        )
        if previous is not None:
            previous >> task
        previous = task

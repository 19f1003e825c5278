"""The Airflow DAG under deploy/ chains one `citylake run --step` task per declared step, in order,
on the declared cron and time zone. Airflow is not installed here: a stand-in records what the DAG
file builds (the wiring is ours; Airflow's scheduling is Airflow's)."""

import runpy
import sys
import types
from zoneinfo import ZoneInfo

from citylake.schedule import load_daily_run
from citylake.settings import PROJECT_ROOT

DAG_FILE = PROJECT_ROOT / "deploy" / "airflow" / "citylake_daily.py"


class Recorded:
    dags, tasks = [], []


class StandInDag:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        Recorded.dags.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class StandInBash:
    def __init__(self, **kwargs):
        self.kwargs, self.downstream = kwargs, []
        Recorded.tasks.append(self)

    def __rshift__(self, other):
        self.downstream.append(other)
        return other


def test_the_dag_runs_each_declared_step_after_the_one_before(monkeypatch):
    airflow = types.ModuleType("airflow")
    airflow.DAG = StandInDag
    operators, bash = types.ModuleType("airflow.operators"), types.ModuleType("airflow.operators.bash")
    bash.BashOperator = StandInBash
    for name, module in {"airflow": airflow, "airflow.operators": operators, "airflow.operators.bash": bash}.items():
        monkeypatch.setitem(sys.modules, name, module)
    Recorded.dags, Recorded.tasks = [], []
    monkeypatch.setenv("CITYLAKE_BIN", "/opt/citylake/.venv/bin/citylake")

    runpy.run_path(str(DAG_FILE))

    daily = load_daily_run()
    (dag,) = Recorded.dags
    assert dag.kwargs["schedule"] == daily.schedule.cron and dag.kwargs["max_active_runs"] == 1
    assert dag.kwargs["start_date"].tzinfo == ZoneInfo(daily.schedule.time_zone)
    assert [task.kwargs["task_id"] for task in Recorded.tasks] == [step.name for step in daily.steps]
    for task, after in zip(Recorded.tasks, Recorded.tasks[1:]):
        assert task.downstream == [after]
    assert Recorded.tasks[2].kwargs["bash_command"] == (
        "/opt/citylake/.venv/bin/citylake run --step base --date {{ ds }} --run-id {{ ds }}.airflow")
    assert all(task.kwargs["retries"] == 0 for task in Recorded.tasks)

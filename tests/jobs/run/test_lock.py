"""One run at a time: a second run is refused with the holder's name; a run that dies holds nothing."""

import subprocess
import sys
import textwrap

import pytest

from jobs.run.lock import LakeBusy, held_by, holding_run, holding_the_lake


def test_a_second_run_is_refused_while_the_first_holds_the_lake(tmp_path):
    with holding_the_lake(tmp_path, "2026-03-05.1"):
        assert held_by(tmp_path).startswith("run 2026-03-05.1 (pid ")
        assert holding_run(tmp_path) == "2026-03-05.1"
        with pytest.raises(LakeBusy, match=r"another run holds the lake: run 2026-03-05.1 \(pid \d+"):
            with holding_the_lake(tmp_path, "2026-03-05.2"):
                pass
    assert held_by(tmp_path) is None and holding_run(tmp_path) is None
    with holding_the_lake(tmp_path, "2026-03-05.2"):
        pass


def test_a_run_killed_while_holding_the_lake_leaves_it_free(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from jobs.run.lock import holding_the_lake
        with holding_the_lake(__import__("pathlib").Path({str(tmp_path)!r}), "2026-03-05.1"):
            print("holding", flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert held_by(tmp_path).startswith("run 2026-03-05.1")
    finally:
        holder.kill()  # SIGKILL: no clean-up runs
        holder.wait()
    assert held_by(tmp_path) is None
    with holding_the_lake(tmp_path, "2026-03-05.2"):
        assert held_by(tmp_path).startswith("run 2026-03-05.2")

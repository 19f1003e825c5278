"""Landing writes the rows once, with Arrow, as the raw table's data files, and commits them with
Delta's own transaction: the files, the commit, the crash cases and what readers see."""

import io
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable
from rich.console import Console

from citylake import cli, lake
from citylake.delta_files import ColumnLayout, ExternalCommit, delta_stats
from citylake.settings import lake_layout
from citylake.trino import client
from jobs.landing.job import land_inbox
from jobs.landing.progress import LandingProgress, RichLandingProgress
from jobs.landing.staging import Origin, ParquetSink, batch_folder_name, row_hashes
from tests.packages import PSB_HEADER, csv_bytes, psb_rows, write_package

TABLE = "raw.psb_household_registration"


def _psb(inbox, sequence, rows, *, batch_id, count=None, name="a.csv", mode="full"):
    return write_package(inbox, "psb", "household_registration", sequence, {name: csv_bytes(PSB_HEADER, rows)},
                         rows={name: len(rows) if count is None else count}, batch_id=batch_id, mode=mode)


def _batch_files(batch_id):
    folder = lake.table_folder(TABLE) / batch_folder_name(batch_id)
    return sorted(path.name for path in folder.glob("*.parquet")) if folder.is_dir() else []


def test_the_row_hash_is_xxh3_128_of_the_values_joined_by_unit_separators():
    batch = pa.RecordBatch.from_pydict({"A": ["350502", "350502"], "B": [None, ""], "C": ["王", "王"]})
    hashes = row_hashes(batch, ["A", "B", "C"]).to_pylist()
    # XXH3-128 of "350502\x1f\x00\x1f王" (reference xxhash 3.x): a missing value is not an empty one.
    assert hashes[0] == "8a7583e432cef46e7723216e18788a85"
    assert hashes[1] != hashes[0] and len(hashes[1]) == 32


def test_delta_statistics_come_from_every_row_group_of_the_footer(tmp_path):
    path = tmp_path / "f.parquet"
    collected = []
    with pq.ParquetWriter(path, pa.schema([("k", pa.string()), ("n", pa.int64()), ("other", pa.string())]),
                          metadata_collector=collected) as writer:
        writer.write_table(pa.table({"k": ["b", None], "n": [5, 7], "other": ["x", "y"]}))
        writer.write_table(pa.table({"k": ["a", "c"], "n": [9, 1], "other": ["x", "y"]}))
    stats = delta_stats(collected[0], {"k", "n"})
    assert stats == {"numRecords": 4, "minValues": {"k": "a", "n": 1}, "maxValues": {"k": "c", "n": 9},
                     "nullCount": {"k": 1, "n": 0}, "tightBounds": True}


def _sink(path):
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    layout = ColumnLayout.of(None, {"delta.columnMapping.mode": "name"})
    return ParquetSink(path, layout, "a.jsonl", Origin("b", 1, "psb", "full", at, at)), layout


def test_the_writing_thread_writes_every_batch_with_its_origin(tmp_path):
    sink, layout = _sink(tmp_path / "ok.parquet")
    with sink:
        for start in (1, 3):
            sink.put(pa.RecordBatch.from_pydict({"A": ["x", "y"], "_record": pa.array([start, start + 1])}))
    written = pq.read_table(tmp_path / "ok.parquet")
    assert written.column(layout.get("_record").physical).to_pylist() == [1, 2, 3, 4]
    assert written.column(layout.get("_file").physical).to_pylist() == ["a.jsonl"] * 4
    assert sink.metadata.num_rows == 4


def test_a_failure_on_the_writing_thread_reaches_the_parsing_thread(tmp_path):
    sink, _ = _sink(tmp_path / "bad.parquet")
    with pytest.raises((ValueError, pa.ArrowInvalid)):
        with sink:
            sink.put(pa.RecordBatch.from_pydict({"A": ["x"], "_record": pa.array([1])}))
            # a JSON lines file whose later lines bring a new key: the file's schema does not fit
            sink.put(pa.RecordBatch.from_pydict({"A": ["y"], "B": ["z"], "_record": pa.array([2])}))


@pytest.mark.spark
@pytest.mark.trino
def test_a_batch_is_one_write_commit_of_arrow_files_under_the_lakes_table_features(spark, trino, catalog,
                                                                                   inbox, fresh_psb):
    _psb(inbox, 1, psb_rows(30), batch_id="t-arrow-1")
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "landed"
    table = DeltaTable.forPath(spark, lake.table_uri(TABLE))
    [last] = table.history(1).collect()
    assert last.operation == "WRITE" and last.operationParameters["mode"] == "Append"
    properties = table.detail().first().properties
    for key, value in lake_layout().table_properties.items():
        assert properties[key] == value, key
    assert "deletionVectors" in table.detail().first().tableFeatures
    append = ExternalCommit(spark, lake.table_uri(TABLE), {})
    assert append.committed_version("citylake-landing:t-arrow-1") == 0
    # The files hold the columns under their column-mapping physical names and field ids.
    [name] = _batch_files("t-arrow-1")
    schema = pq.read_schema(lake.table_folder(TABLE) / batch_folder_name("t-arrow-1") / name)
    gmsfhm = append.columns.get("GMSFHM")
    assert gmsfhm.physical.startswith("col-") and gmsfhm.physical in schema.names
    assert schema.field(gmsfhm.physical).metadata[b"PARQUET:field_id"] == str(gmsfhm.field_id).encode()
    # Spark and Trino read the same rows, origin and hash.
    spark_rows = {(r.GMSFHM, r._record, r._row_hash) for r in lake.read_table(spark, TABLE).collect()}
    trino_rows = set(client.run_query(trino, f"SELECT gmsfhm, _record, _row_hash FROM lake.{TABLE}"))
    assert spark_rows == trino_rows and len(trino_rows) == 30
    extracted = client.run_query(trino, f"SELECT DISTINCT _extracted_at IS NOT NULL, _ingested_at IS NOT NULL, "
                                        f"_sequence, _mode FROM lake.{TABLE}")
    assert extracted == [(True, True, 1, "full")]


@pytest.mark.spark
@pytest.mark.trino
def test_a_crash_after_writing_the_files_and_before_the_commit_is_landed_once_by_the_rerun(
        spark, trino, catalog, inbox, fresh_psb, land_killed_at):
    _psb(inbox, 1, psb_rows(12), batch_id="t-arrow-crash")
    land_killed_at(inbox, ExternalCommit, "commit")
    orphans = _batch_files("t-arrow-crash")
    assert len(orphans) == 1  # written, never committed: invisible to readers
    assert not lake.table_exists(spark, TABLE)

    [entry] = land_inbox(spark, inbox, catalog)
    assert (entry.status, entry.rows_landed) == ("landed", 12)
    files = _batch_files("t-arrow-crash")
    assert len(files) == 1 and files != orphans  # the orphan was removed, the new file committed
    assert client.run_query(trino, f"SELECT count(*) FROM lake.{TABLE}") == [(12,)]


@pytest.mark.spark
def test_a_rejected_batch_leaves_no_files_in_the_table(spark, catalog, inbox, fresh_psb):
    _psb(inbox, 1, psb_rows(5), batch_id="t-arrow-ok")
    _psb(inbox, 2, psb_rows(5, start=5), batch_id="t-arrow-bad-count", count=6)
    statuses = {e.batch_id: e.status for e in land_inbox(spark, inbox, catalog)}
    assert statuses == {"t-arrow-ok": "landed", "t-arrow-bad-count": "rejected"}
    assert _batch_files("t-arrow-ok") and not _batch_files("t-arrow-bad-count")
    assert not (lake.table_folder(TABLE) / batch_folder_name("t-arrow-bad-count")).exists()


class RecordedProgress(LandingProgress):
    def __init__(self):
        super().__init__()
        self.seen = []

    def shown(self):
        self.seen.append((self.packages_done, self.packages_total, self.current, self.rows_read, self.rows_landed))


@pytest.mark.spark
def test_progress_follows_packages_and_rows_of_a_real_run(spark, catalog, inbox, fresh_psb):
    _psb(inbox, 1, psb_rows(40), batch_id="t-progress-1")
    _psb(inbox, 2, psb_rows(3, start=40), batch_id="t-progress-2", count=4)  # rejected: 3 rows, not 4
    progress = RecordedProgress()
    entries = land_inbox(spark, inbox, catalog, progress=progress)
    assert [e.status for e in entries] == ["landed", "rejected"]
    assert progress.seen[0][:2] == (0, 2)
    assert any(current.endswith("t-progress-1") and read == 40 for _, _, current, read, _ in progress.seen)
    assert any(current.endswith("t-progress-2") and read == 3 for _, _, current, read, _ in progress.seen)
    assert progress.seen[-1][0:2] == (2, 2) and progress.rows_landed == 40


@pytest.mark.spark
def test_citylake_land_shows_packages_done_and_rows_landed_then_the_summary(spark, inbox, fresh_psb, monkeypatch):
    _psb(inbox, 1, psb_rows(7), batch_id="t-cli-1")
    _psb(inbox, 2, psb_rows(5, start=7), batch_id="t-cli-2", mode="incremental")
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=200, force_terminal=False))
    cli.main(["land", "--inbox", str(inbox)])
    text = out.getvalue()
    assert "2/2 packages · done · 12 rows landed" in text
    assert "Landing summary" in text and "psb.household_registration" in text


def test_the_progress_line_names_the_current_package_its_rows_and_the_runs_rows():
    progress = RichLandingProgress(Console(file=io.StringIO()))
    progress.run_started(3)
    progress.package_started("psb", "household_registration", "psb-household_registration-00002")
    progress.rows(1_250_000)
    assert (progress.packages_done, progress.packages_total) == (0, 3)
    assert progress.describe() == ("psb.household_registration psb-household_registration-00002: "
                                   "1,250,000 rows read · 0 rows landed")


@pytest.mark.spark
def test_a_commit_leaves_the_sessions_checksum_settings_as_they_were(spark, tmp_path):
    from citylake.delta_files import COMMIT_SETTINGS
    from citylake.spark import session_settings

    for before in (None, "true"):
        for key in COMMIT_SETTINGS:
            if before is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, before)
        with session_settings(spark, COMMIT_SETTINGS):
            assert {key: spark.conf.get(key) for key in COMMIT_SETTINGS} == COMMIT_SETTINGS
        assert {spark.conf.get(key, None) for key in COMMIT_SETTINGS} == {before}
    for key in COMMIT_SETTINGS:
        spark.conf.unset(key)


@pytest.mark.spark
@pytest.mark.trino
def test_a_ledger_entry_is_one_arrow_file_whose_values_spark_and_trino_read_back(spark, trino, fresh_psb):
    from jobs.landing.ledger import LEDGER, LedgerEntry, record

    at = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone.utc)
    entry = LedgerEntry(department="psb", resource="household_registration", batch_id="t-ledger-row", sequence=7,
                        mode="incremental", extracted_at=None, status="landed", reason="说明, with a comma",
                        content_sha256="ab" * 32, rows_read=12, rows_landed=11, rows_quarantined=1,
                        package_path="/inbox/psb/household_registration/t-ledger-row", started_at=at,
                        finished_at=datetime(2026, 3, 1, 9, 30, 17, 623456, tzinfo=timezone.utc),
                        drift_columns=["LXDH", "备注"])
    record(spark, entry)
    [row] = lake.read_table(spark, LEDGER).where("batch_id = 't-ledger-row'").collect()
    assert row.asDict() | {"started_at": None, "finished_at": None} == entry.as_row() | {
        "started_at": None, "finished_at": None}
    assert row.started_at.timestamp() == at.timestamp() and row.duration_s == 2.5
    [last] = DeltaTable.forPath(spark, lake.table_uri(LEDGER)).history(1).collect()
    assert last.operation == "WRITE" and last.operationParameters["mode"] == "Append"
    seen = client.run_query(trino, "SELECT sequence, drift_columns, duration_s, rows_quarantined "
                                   "FROM lake.ops.batch_ledger WHERE batch_id = 't-ledger-row'")
    assert seen == [(7, ["LXDH", "备注"], 2.5, 1)]

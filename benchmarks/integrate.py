"""Applying a 1 % incremental batch to a household-registration table of millions of rows, against
rebuilding that table and its history from all the changes, in the same run.

    CITYLAKE__SPARK__DRIVER_MEMORY=4g .venv/bin/python benchmarks/integrate.py [--sizes 1000000 5000000]
        [--share 0.01] [--increments 3]

For each size a scratch lake gets a current table of that many persons (an 18-digit ID number as
the key, name, gender, ethnicity, birth date, division, address, household number, relation to
the head of household, status, change time) and its history, loaded as one batch of inserts.
Then `--increments` batches of `--share` of the rows each are applied one after another through
`apply_changes`: mostly updates, some inserts of new persons, a few deletes, a few keys changed
twice in the batch and a few late rows (older than the key's current version). After them the
table is rebuilt from scratch from every change it has seen, which is what a platform without
incremental application does each time (less the changes the increments set aside as late: a
rebuild would keep them as old versions). Prints each increment's time with where it went, the
rebuild's time, whether both give the same current table and history, and the ratio increment /
rebuild (target: at most 0.10 at 5 million rows, and smaller as the table grows).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

SCRATCH = Path(tempfile.mkdtemp(prefix="citylake-bench-integrate-"))
# A scratch lake, so the benchmark never touches the demo's warehouse.
os.environ.update({
    "CITYLAKE__PATHS__VAR": str(SCRATCH / "var"),
    "CITYLAKE__PATHS__WAREHOUSE": str(SCRATCH / "var" / "warehouse"),
    "CITYLAKE__TRINO__PORT": "1",  # no Trino: tables are registered when one starts
})
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa  # noqa: E402
from pyspark.sql import Column, DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from citylake import lake  # noqa: E402
from jobs.integrate.changes import Applied, apply_changes  # noqa: E402

KEY = ["id_number"]
DIVISIONS = ["350502", "350503", "350504", "350505", "350521", "350524", "350525", "350526", "350581", "350582",
             "350583", "352401"]
STREETS = ["中山路", "温陵路", "丰泽街", "泉秀路", "津淮街", "刺桐路", "田安路", "宝洲路", "滨海街", "江滨路"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕彩春菊凤洁梅琳素云莲真环雪荣爱妹香月"
# Birth dates: the serial number's block of persons (see `id_number`) spread over 80 years.
BIRTH_DAYS, BIRTH_STRIDE = 29_200, 7_919
# How an increment's rows divide (the rest are updates of a current person).
INSERTS, DELETES, LATE, TWICE = 0.15, 0.03, 0.02, 0.05


def pick(text: str, seed: Column) -> Column:
    """One character of `text`, chosen by a hash of `seed`."""
    return F.substring(F.lit(text), (F.pmod(seed, F.lit(len(text))) + 1).cast("int"), 1)


def pick_from(values: list[str], seed: Column) -> Column:
    return F.element_at(F.array(*[F.lit(v) for v in values]), (F.pmod(seed, F.lit(len(values))) + 1).cast("int"))


def id_number(person: Column) -> Column:
    """A distinct valid 18-digit ID number for each person number: division by person % 12, the
    serial by (person / 12) % 1000 and the birth date by the rest, so no two persons share one."""
    division = pick_from(DIVISIONS, person)
    serial = F.lpad((F.floor(person / 12) % 1000).cast("string"), 3, "0")
    born = F.date_add(F.lit("1940-01-01").cast("date"),
                      (F.floor(person / 12_000) * BIRTH_STRIDE % BIRTH_DAYS).cast("int"))
    body = F.concat(division, F.date_format(born, "yyyyMMdd"), serial)
    weighted = sum(F.substring(body, i + 1, 1).cast("int") * pow(2, 17 - i, 11) for i in range(17))
    return F.concat(body, F.substring(F.lit("10X98765432"), (weighted % 11 + 1).cast("int"), 1))


def persons(spark: SparkSession, first: int, count: int, version: int) -> DataFrame:
    """Persons `first` .. `first + count - 1` as the integration job types them; `version` moves
    the name, address and status a person has, as a later delivery of the same person would."""
    p = F.col("id")
    seed = F.xxhash64(p, F.lit(version))
    ids = id_number(p)
    return (spark.range(first, first + count)
            .select(ids.alias("id_number"),
                    F.concat(pick(SURNAMES, seed), pick(GIVEN, seed / 53), pick(GIVEN, seed / 2809)).alias("name"),
                    F.when(p % 2 == 0, "1").otherwise("2").alias("gender"),
                    F.when(seed % 20 == 0, "03").otherwise("01").alias("ethnicity"),
                    F.to_date(F.substring(ids, 7, 8), "yyyyMMdd").alias("birth_date"),
                    pick_from(DIVISIONS, p).alias("domicile_division_code"),
                    F.concat(F.lit("福建省泉州市"), pick_from(STREETS, seed / 7), (F.abs(seed) % 400).cast("string"),
                             F.lit("号"), (F.abs(seed / 400) % 30).cast("string"), F.lit("室")).alias("domicile_address"),
                    F.lpad(F.floor(p / 3).cast("string"), 9, "0").alias("household_no"),
                    pick_from(["01", "02", "03", "10"], p).alias("relation_to_head"),
                    F.when(F.abs(seed) % 50 == 0, "1").otherwise("0").alias("status"), "id"))


def as_changes(frame: DataFrame, op: Column, changed_at: Column, batch: str, sequence: int) -> DataFrame:
    """Typed rows as the integration job hands them to `apply_changes`."""
    attributes = [c for c in frame.columns if c not in ("id", "id_number")]
    return (frame.withColumn("changed_at", changed_at)
            .select("id_number", *attributes, "changed_at", op.alias("_op"), F.col("changed_at").alias("_changed_at"),
                    F.lit(batch).alias("_batch_id"), F.lit(sequence).cast("long").alias("_sequence"),
                    (F.col("id") + 1).alias("_record"))
            .withColumn("_row_hash", F.xxhash64(F.to_json(F.struct(*attributes)))))


def initial_load(spark: SparkSession, rows: int) -> DataFrame:
    """Every person inserted once, at a change time spread over 2015-2025."""
    changed_at = F.timestamp_seconds(F.lit(1_420_070_400) + F.pmod(F.xxhash64("id", F.lit(1)), F.lit(11 * 365 * 86_400)))
    return as_changes(persons(spark, 0, rows, 0), F.lit("I"), changed_at, "load", 1)


def increment(spark: SparkSession, rows: int, share: float, number: int) -> DataFrame:
    """A batch of `share` of `rows` changes, on day `number` of 2026: updates, inserts of persons
    after the last one, deletes, second changes of some updated keys, and late rows (dated 2010,
    older than any current version)."""
    size = int(rows * share)
    counts = {kind: int(size * part) for kind, part in (("I", INSERTS), ("D", DELETES), ("late", LATE), ("twice", TWICE))}
    updates = size - sum(counts.values())
    day = f"2026-01-{number:02d}"
    stride = max(rows // (updates + counts["D"] + counts["late"]), 1)
    # Existing persons touched by this batch: every stride-th one, offset per batch so batches differ.
    touched = lambda first, count, version: (persons(spark, 0, rows, version)  # noqa: E731
                                             .where((F.col("id") % stride == number) & (F.col("id") >= first * stride))
                                             .where(F.col("id") < (first + count) * stride))
    at = lambda hour: F.lit(f"{day} {hour:02d}:00:00").cast("timestamp")  # noqa: E731
    batch, sequence = f"inc-{number}", number + 1
    parts = [
        as_changes(touched(0, updates, number), F.lit("U"), at(9), batch, sequence),
        as_changes(touched(0, counts["twice"], number + 100), F.lit("U"), at(15), batch, sequence),
        as_changes(touched(updates, counts["D"], number), F.lit("D"), at(10), batch, sequence),
        as_changes(touched(updates + counts["D"], counts["late"], number + 200), F.lit("U"),
                   F.lit("2010-06-01 08:00:00").cast("timestamp"), batch, sequence),
        as_changes(persons(spark, rows + (number - 1) * counts["I"], counts["I"], number), F.lit("I"), at(11),
                   batch, sequence),
    ]
    first, *rest = parts
    for part in rest:
        first = first.unionByName(part)
    return first


def materialized(spark: SparkSession, frame: DataFrame, name: str) -> DataFrame:
    """The changes written once to Parquet, so generating them is not timed (the integration job
    hands `apply_changes` a checkpointed frame)."""
    path = str(SCRATCH / "changes" / name)
    frame.write.mode("overwrite").parquet(path)
    return spark.read.parquet(path)


def timed_apply(spark: SparkSession, changes: DataFrame, table: str) -> tuple[float, Applied]:
    started = time.perf_counter()
    applied = apply_changes(spark, changes, table, KEY)
    return time.perf_counter() - started, applied


def same_rows(spark: SparkSession, one: str, other: str) -> bool:
    first, second = lake.read_table(spark, one), lake.read_table(spark, other)
    return first.exceptAll(second).isEmpty() and second.exceptAll(first).isEmpty()


def drop_tables(*names: str) -> None:
    for name in names:
        for suffix in ("", "_history"):
            shutil.rmtree(lake.table_folder(name + suffix), ignore_errors=True)


def describe(applied: Applied) -> str:
    return (f"inserted {applied.inserted:,}, updated {applied.updated:,}, deleted {applied.deleted:,}, "
            f"unchanged {applied.unchanged:,}")


def steps(applied: Applied) -> str:
    return ", ".join(f"{step} {seconds:.1f}" for step, seconds in applied.timings.items())


def run_size(spark: SparkSession, rows: int, share: float, increments: int) -> None:
    table, rebuilt = f"integrated.bench_{rows}", f"integrated.bench_{rows}_rebuilt"
    drop_tables(table, rebuilt)
    print(f"\n{rows:,} rows, {increments} increments of {share:.1%}")
    load = materialized(spark, initial_load(spark, rows), f"{rows}-load")
    seconds, applied = timed_apply(spark, load, table)
    print(f"  initial load     {seconds:7.1f} s  ({describe(applied)})")
    batches = [materialized(spark, increment(spark, rows, share, n), f"{rows}-inc-{n}") for n in range(1, increments + 1)]
    times, late = [], []
    for number, batch in enumerate(batches, start=1):
        seconds, applied = timed_apply(spark, batch, table)
        times.append(seconds)
        late.append(applied.late.select([*KEY, "_batch_id", "_record"]))
        print(f"  increment {number}      {seconds:7.1f} s  ({describe(applied)}, late {applied.late.num_rows:,})")
        print(f"      steps (s): {steps(applied)}")
    everything = load
    for batch in batches:
        everything = everything.unionByName(batch)
    set_aside = spark.createDataFrame(pa.concat_tables(late).combine_chunks())
    everything = materialized(spark, everything.join(set_aside, [*KEY, "_batch_id", "_record"], "left_anti"), f"{rows}-all")
    rebuild, applied = timed_apply(spark, everything, rebuilt)
    print(f"  rebuild          {rebuild:7.1f} s  ({describe(applied)})")
    print(f"      steps (s): {steps(applied)}")
    for suffix, what in (("", "current table"), ("_history", "history")):
        print(f"  increments and rebuild give the same {what}: {same_rows(spark, table + suffix, rebuilt + suffix)}")
    for number, seconds in enumerate(times, start=1):
        print(f"  ratio increment {number} / rebuild: {seconds / rebuild:.3f}  (target ≤ 0.10 at 5M rows)")
    drop_tables(table, rebuilt)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000],
                        help="rows of the current table, one run each")
    parser.add_argument("--share", type=float, default=0.01, help="an increment's rows, as a share of the table")
    parser.add_argument("--increments", type=int, default=3, help="increments applied one after another")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    from citylake.spark import spark_session

    try:
        spark = spark_session()
        for rows in args.sizes:
            run_size(spark, rows, args.share, args.increments)
    finally:
        if not args.keep:
            shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()

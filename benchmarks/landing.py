"""Landing a 5-million-row GBK household-registration extract, against pyarrow's CSV → Parquet
conversion of the same file in the same run (the local limit of reading and writing it).

    CITYLAKE__SPARK__DRIVER_MEMORY=4g .venv/bin/python benchmarks/landing.py [--rows 5000000] [--keep]

The extract is landed three times in one process, each landing right after its own pyarrow
conversion (the machine's load moves; a ratio compares neighbours): as sequence 1 (full) into
an empty lake in a fresh Spark session, then as sequences 2 and 3 (incremental) into the same
table. The first pays the JVM's first use of Delta's commit path, the second that of Spark's
and Delta's read path in the ledger's read (fixed costs per process, whatever the rows); the
third is what a package costs once a landing run is under way. Prints rows per second, the
ratio landing / pyarrow (target: at most 2.5), the machine's load average (the ratio moves with
it) and where each landing's time went.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SCRATCH = Path(tempfile.mkdtemp(prefix="citylake-bench-landing-"))
# A scratch lake, so the benchmark never touches the demo's warehouse or ledger.
os.environ.update({
    "CITYLAKE__PATHS__VAR": str(SCRATCH / "var"),
    "CITYLAKE__PATHS__WAREHOUSE": str(SCRATCH / "var" / "warehouse"),
    "CITYLAKE__TRINO__PORT": "1",  # no Trino: tables are registered when one starts
})
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.packages import PSB_HEADER, write_package  # noqa: E402

CHUNK = 500_000
DIVISIONS = np.array(["350502", "350503", "350504", "350505", "350521", "350524", "350525", "350526",
                      "350581", "350582", "350583"])
SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"))
GIVEN = np.array(list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽"))
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
CHECK = np.array(list("10X98765432"))


def id_numbers(index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Valid 18-digit ID numbers (GB 11643 check digit), vectorised."""
    division = DIVISIONS[index % len(DIVISIONS)]
    year = 1940 + rng.integers(0, 80, len(index))
    month = rng.integers(1, 13, len(index))
    day = rng.integers(1, 29, len(index))
    serial = index % 1000
    body = np.char.add(np.char.add(division, np.char.zfill(year.astype(str), 4)),
                       np.char.add(np.char.zfill(month.astype(str), 2), np.char.zfill(day.astype(str), 2)))
    body = np.char.add(body, np.char.zfill(serial.astype(str), 3))
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17) - 48
    return np.char.add(body, CHECK[(digits * WEIGHTS).sum(axis=1) % 11])


def extract_chunk(start: int, rows: int, rng: np.random.Generator) -> pa.Table:
    index = np.arange(start, start + rows)
    ids = id_numbers(index, rng)
    division = DIVISIONS[index % len(DIVISIONS)]
    names = np.char.add(SURNAMES[rng.integers(0, len(SURNAMES), rows)],
                        np.char.add(GIVEN[rng.integers(0, len(GIVEN), rows)], GIVEN[rng.integers(0, len(GIVEN), rows)]))
    columns = {
        "GMSFHM": ids, "XM": names, "XB": np.where(index % 2 == 0, "1", "2"), "MZ": np.full(rows, "01"),
        "HJDZ_XZQH": division, "HJDZ": np.char.add("福建省泉州市某街道", (index % 997).astype(str)),
        "HH": np.char.zfill((index // 3).astype(str), 9), "YHZGX": np.full(rows, "02"),
        "RYZT": np.full(rows, "0"), "BGSJ": np.full(rows, "2026-01-01 08:00:00"),
        "CSRQ": np.array([f"{i[6:10]}-{i[10:12]}-{i[12:14]}" for i in ids]),
    }
    return pa.table({name: pa.array(columns[name].tolist(), pa.string()) for name in PSB_HEADER})


def write_gbk_extract(path: Path, rows: int) -> None:
    rng = np.random.default_rng(7)
    utf8 = path.with_suffix(".utf8")
    with pacsv.CSVWriter(utf8, pa.schema([(n, pa.string()) for n in PSB_HEADER])) as writer:
        for start in range(0, rows, CHUNK):
            writer.write_table(extract_chunk(start, min(CHUNK, rows - start), rng))
    with utf8.open(encoding="utf-8") as source, path.open("w", encoding="gbk", newline="") as target:
        shutil.copyfileobj(source, target, 16 << 20)
    utf8.unlink()


def pyarrow_to_parquet(path: Path, out: Path) -> int:
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(encoding="gbk", block_size=32 << 20),
                            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in PSB_HEADER}))
    rows = 0
    with pq.ParquetWriter(out, reader.schema, compression="snappy") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


class Phases:
    """Wall time spent in the landing job's phases, by wrapping them for the benchmark's run.

    Only the outermost phase is timed (the ledger write opens and commits a Delta transaction of
    its own: that is ledger time), so the phases and "other" add up to the landing's time."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._inside = False

    def wrap(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if self._inside:
                return original(*args, **kwargs)
            self._inside, started = True, time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._inside = False
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed)

    def take(self) -> dict[str, float]:
        spent, self.spent = self.spent, {}
        return spent


def watch_phases() -> Phases:
    from citylake.delta_files import ExternalCommit
    from jobs.landing import job

    phases = Phases()
    phases.wrap(job, "resource_history", "ledger read")
    phases.wrap(job, "verify_files", "verify sha256")
    phases.wrap(job, "stage_package", "stage (Arrow: parse, origin, hash, Parquet)")
    phases.wrap(ExternalCommit, "__init__", "open Delta transaction")
    phases.wrap(ExternalCommit, "commit", "Delta commit")
    phases.wrap(job, "record", "ledger write")
    return phases


def land_timed(spark, inbox: Path, catalog, rows: int, phases: Phases) -> tuple[float, dict[str, float]]:
    from jobs.landing.job import land_inbox

    started = time.perf_counter()
    [entry] = land_inbox(spark, inbox, catalog)
    landing = time.perf_counter() - started
    assert entry.status == "landed" and entry.rows_landed == rows, entry
    return landing, phases.take()


def report(title: str, reference: float, landing: float, phases: dict[str, float], rows: int) -> None:
    print(f"\n{title}  (load average {' '.join(f'{load:.1f}' for load in os.getloadavg())})")
    print(f"  pyarrow CSV → Parquet : {reference:6.1f} s  {rows / reference:12,.0f} rows/s")
    print(f"  citylake landing      : {landing:6.1f} s  {rows / landing:12,.0f} rows/s "
          "(verify sha256, stage with origin columns and row hashes, one Delta commit, ledger)")
    print(f"  ratio landing / pyarrow: {landing / reference:.2f}  (target ≤ 2.5)")
    for label, spent in phases.items():
        print(f"    {label:50s} {spent:6.2f} s")
    print(f"    {'other (scan, checks, quarantine, publish)':50s} {landing - sum(phases.values()):6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()

    from citylake.catalog import load_catalog
    from citylake.spark import spark_session

    extract = SCRATCH / "extract.csv"
    started = time.perf_counter()
    write_gbk_extract(extract, args.rows)
    print(f"wrote {args.rows:,} rows, {extract.stat().st_size / 1e6:,.0f} MB GBK in {time.perf_counter() - started:.1f} s")

    spark = spark_session()
    catalog = load_catalog()
    phases = watch_phases()
    content = extract.read_bytes()
    for sequence, mode, title in ((1, "full", "package 1: a fresh Spark session, an empty lake"),
                                  (2, "incremental", "package 2: the same session (the ledger is read for the first time)"),
                                  (3, "incremental", "package 3: a landing run under way")):
        inbox = SCRATCH / f"inbox-{sequence}"
        write_package(inbox, "psb", "household_registration", sequence, {"extract.csv": content},
                      rows={"extract.csv": args.rows}, batch_id=f"bench-{sequence:05d}", mode=mode)
        started = time.perf_counter()
        assert pyarrow_to_parquet(extract, SCRATCH / "reference.parquet") == args.rows
        reference = time.perf_counter() - started
        landing, spent = land_timed(spark, inbox, catalog, args.rows, phases)
        report(title, reference, landing, spent, args.rows)
    if not args.keep:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    else:
        print(f"\nscratch lake kept: {SCRATCH}")


if __name__ == "__main__":
    main()

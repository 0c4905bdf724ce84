"""Benchmark of the Delta bridge: writes and reads of a pool-like table through Spark.

For each size it measures, on the embedded Spark session (``GOVLAKE_SPARK_MASTER``, default
``local[*]``):

* ``generate_s``: producing the rows into Spark's no-op sink, the floor under every write;
* ``write_s``: the same rows written through ``jobs.lake.tables.write_table`` (Parquet files by
  the tasks, one Delta commit by the driver);
* ``spark_parquet_s``: the same rows through Spark's own Parquet writer (no Delta), for scale;
* ``read_s``: a full read of every column through ``read_table`` into the no-op sink;
* ``count_s``: ``read_table(...).count()`` (Parquet footers only);
* ``skip_s``: a selective read (``row_number < 1000``) where file statistics skip files;

and, per phase, the peak resident memory of the driver's Python process (``py_mb``), of the
Spark JVM it started (``jvm_mb``) and of the whole process tree including Python workers
(``tree_mb``), sampled every 50 ms with psutil.

``--quick`` measures 100,000 rows; the full run 1,000,000 and 5,000,000. Run alone with
``python -m bench.bench_bridge [--quick] [--rows N ...]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from pyspark.sql import functions as F

from jobs.lake import tables
from jobs.settings import Settings
from jobs.spark import get_spark

QUICK_SIZES = (100_000,)
FULL_SIZES = (1_000_000, 5_000_000)

DEPARTMENTS = ["gaj", "wjw", "mzj", "rsj", "jyj", "scjgj", "swj", "zrzyj"]
SURNAMES = ["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴"]


class PeakMemory:
    """Samples resident memory of this process and its descendants in a background thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.process = psutil.Process()
        self.peaks = {"py": 0, "jvm": 0, "tree": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        py = self.process.memory_info().rss
        jvm = tree = 0
        named = []
        for child in self.process.children(recursive=True):
            try:
                named.append((child, child.name()))
            except psutil.Error:  # a Python worker ended between listing and reading it
                continue
        jvms = {child.pid: child for child, name in named if "java" in name}
        for child, name in named:
            try:
                if "java" not in name and _is_unexecuted_spawn(child, jvms):
                    continue
                rss = child.memory_info().rss
                tree += rss
                if "java" in name:
                    jvm += rss
            except psutil.Error:
                continue
        for key, value in (("py", py), ("jvm", jvm), ("tree", py + tree)):
            self.peaks[key] = max(self.peaks[key], value)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    @contextmanager
    def measure(self) -> Iterator[dict[str, int]]:
        """Within the block, tracks peaks; afterwards the yielded dict holds them in MB."""
        self.peaks = {"py": 0, "jvm": 0, "tree": 0}
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        result: dict[str, int] = {}
        try:
            yield result
        finally:
            self._stop.set()
            self._thread.join()
            self._sample()
            result.update({k: round(v / 2**20) for k, v in self.peaks.items()})


def _is_unexecuted_spawn(child: psutil.Process, jvms: dict[int, psutil.Process]) -> bool:
    """Whether ``child`` (not a JVM) is a process a JVM is starting that has not yet run its
    program.

    Hadoop's local file system runs ``chmod`` in a child process for every folder and file
    Spark's own writers create (the native Hadoop library is not loaded). Java starts it with
    ``posix_spawn``, whose child shares the JVM's memory until it runs its program: for that
    instant it reports the JVM's resident memory as its own, and counting it doubled the JVM
    in the peak (3 GB at a million persons). Only a JVM's direct children have their command
    lines read (they still carry the JVM's until the program runs).
    """
    parent = jvms.get(child.ppid())
    return parent is not None and child.cmdline() == parent.cmdline()


def pool_like_rows(spark: Any, rows: int) -> Any:
    """A DataFrame shaped like a department pool table: 14 columns of strings, dates, ints,
    a timestamp, and the lineage columns every pool row carries."""
    n = F.col("id")
    birth = F.date_add(F.lit(dt.date(1930, 1, 1)), (n * 7919 % 30000).cast("int"))
    return spark.range(rows).select(
        F.concat(
            F.lit("3302"),
            F.lpad((n % 100).cast("string"), 2, "0"),
            F.date_format(birth, "yyyyMMdd"),
            F.lpad((n % 1000).cast("string"), 3, "0"),
            (n % 10).cast("string"),
        ).alias("person_id"),
        F.concat(
            F.element_at(F.array(*map(F.lit, SURNAMES)), (n % len(SURNAMES) + 1).cast("int")),
            F.lit("某"),
            (n % 997).cast("string"),
        ).alias("name"),
        (n % 2 + 1).cast("string").alias("gender_code"),
        birth.alias("birth_date"),
        F.lpad((n % 56 + 1).cast("string"), 2, "0").alias("ethnicity_code"),
        F.concat(F.lit("浙江省宁波市某区某街道"), (n % 5000).cast("string"), F.lit("号")).alias(
            "address"
        ),
        F.date_add(F.lit(dt.date(2000, 1, 1)), (n * 31 % 9000).cast("int")).alias("registered_on"),
        (n % 90).cast("int").alias("age"),
        F.element_at(
            F.array(*map(F.lit, DEPARTMENTS)), (n % len(DEPARTMENTS) + 1).cast("int")
        ).alias("department"),
        F.lit("hukou").alias("resource"),
        F.concat(F.lit("batch-"), (n / 250_000).cast("long").cast("string")).alias("batch_id"),
        F.concat(F.lit("hukou_"), (n / 250_000).cast("long").cast("string"), F.lit(".csv")).alias(
            "source_file"
        ),
        n.alias("row_number"),
        F.timestamp_seconds(F.lit(1_735_689_600) + n % 86_400).alias("ingested_at"),
    )


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def measure(spark: Any, rows: int, scratch: Path) -> dict[str, Any]:
    """Writes and reads ``rows`` rows once; returns the figures."""
    uri = str(scratch / f"pool_{rows}")
    df = pool_like_rows(spark, rows)
    memory = PeakMemory()
    figures: dict[str, Any] = {"rows": rows, "columns": len(df.columns)}

    with memory.measure() as generate_mb:
        generate_s, _ = _timed(lambda: df.write.format("noop").mode("overwrite").save())
    parquet_s, _ = _timed(lambda: df.write.mode("overwrite").parquet(str(scratch / "plain")))
    with memory.measure() as write_mb:
        write_s, result = _timed(lambda: tables.write_table(df, uri, mode="overwrite"))
    with memory.measure() as read_mb:
        read_s, _ = _timed(
            lambda: tables.read_table(spark, uri).write.format("noop").mode("overwrite").save()
        )
    count_s, counted = _timed(lambda: tables.read_table(spark, uri).count())
    skip_s, _ = _timed(lambda: tables.read_table(spark, uri, predicate="row_number < 1000").count())
    if counted != rows:
        raise AssertionError(f"read {counted} rows back, wrote {rows}")
    table_mb = sum(p.stat().st_size for p in Path(uri).rglob("*.parquet")) / 2**20
    figures.update(
        {
            "generate_s": round(generate_s, 2),
            "write_s": round(write_s, 2),
            "write_rows_s": round(rows / write_s),
            "spark_parquet_s": round(parquet_s, 2),
            "files": result.files,
            "table_mb": round(table_mb, 1),
            "read_s": round(read_s, 2),
            "read_rows_s": round(rows / read_s),
            "count_s": round(count_s, 2),
            "skip_s": round(skip_s, 2),
            "write_py_mb": write_mb["py"],
            "write_jvm_mb": write_mb["jvm"],
            "write_tree_mb": write_mb["tree"],
            "read_py_mb": read_mb["py"],
            "read_tree_mb": read_mb["tree"],
            "generate_tree_mb": generate_mb["tree"],
        }
    )
    return figures


def run(args: argparse.Namespace, settings: Settings) -> list[dict[str, Any]]:
    """Measures each size once (``args.quick``: 100k rows; else 1M and 5M)."""
    sizes = getattr(args, "rows", None) or (QUICK_SIZES if args.quick else FULL_SIZES)
    spark = get_spark(settings, app_name="govlake-bench", **{"spark.ui.enabled": "false"})
    # Warm up both writers once (JVM JIT, Python worker start, imports) so that the first size
    # is not penalised.
    with tempfile.TemporaryDirectory(prefix="bench_bridge_") as scratch:
        tables.write_table(pool_like_rows(spark, 1000), str(Path(scratch) / "warmup"))
        pool_like_rows(spark, 1000).write.parquet(str(Path(scratch) / "warmup_plain"))
        tables.read_table(spark, str(Path(scratch) / "warmup")).count()
        return [measure(spark, rows, Path(scratch)) for rows in sizes]


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import format_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, nargs="*", help="sizes to measure instead")
    print(format_table(run(parser.parse_args(argv), Settings.from_env())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

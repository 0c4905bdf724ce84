"""The Spark session factory.

Embedded ``local[*]`` by default; a cluster is a setting (``GOVLAKE_SPARK_MASTER``), not a code
change. The session always knows the govlake Delta bridge data source, so ``format("govlake_delta")``
works without any Delta JARs.
"""

from __future__ import annotations

import logging
import os
import sys

from pyspark.sql import SparkSession

from jobs.secrets import keep_files_private
from jobs.settings import PROJECT_ROOT, Settings

_MIN_SPLITS = "spark.sql.files.minPartitionNum"
_EXECUTOR_PYTHONPATH = "spark.executorEnv.PYTHONPATH"


def get_spark(settings: Settings, app_name: str = "govlake", **extra_conf: str) -> SparkSession:
    """Returns the process's Spark session, creating it from ``settings`` on first use.

    Args:
        settings: effective settings, built at the edge (CLI command, task callable, bench).
        app_name: shown in the Spark UI and the cluster's application list.
        extra_conf: further ``spark.*`` options (dots written as-is in keys via ``**{"spark.x": v}``).
    """
    # py4j logs every connection it closes at INFO; under Airflow's task logging that is
    # thousands of lines per task and hides the task's own messages.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    # Python workers must be the interpreter that has deltalake/pyarrow installed (the venv),
    # not whatever ``python3`` is first on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # The JVM and its Python workers (delta-rs writes in them) inherit the umask at launch.
    keep_files_private()
    builder = (
        SparkSession.builder.appName(app_name)
        .master(settings.spark_master)
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.session.timeZone", settings.timezone)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Files Spark writes itself (Hadoop's file system, not delta-rs): no access for others.
        .config("spark.hadoop.fs.permissions.umask-mode", "027")
        # The status store keeps every finished query's plan (1,000 by default) even with the
        # UI off; a long-lived driver (Airflow worker, test session) running wide integration
        # plans filled a 2 GB heap with them and then failed to build a small broadcast.
        .config("spark.sql.ui.retainedExecutions", "50")
        .config("spark.ui.retainedJobs", "100")
        .config("spark.ui.retainedStages", "100")
        .config("spark.ui.retainedTasks", "10000")
        # HotSpot does not JIT-compile a method over 8,000 bytes of bytecode: a whole-stage
        # function that large (the pool job's standardisation of a dozen fields) runs in the
        # bytecode interpreter. At this limit Spark falls back to per-operator code instead,
        # which the JIT compiles: the hukou standardisation ran 30-40 % faster.
        .config("spark.sql.codegen.hugeMethodLimit", "8000")
    )
    if settings.driver_java_options:
        # Read when the driver's JVM starts, like its memory (the first session of a process).
        builder = builder.config("spark.driver.extraJavaOptions", settings.driver_java_options)
    if not settings.spark_master.startswith("local"):
        # Executors of a cluster run govlake's Python (the Delta bridge's writer, the Arrow rules
        # in mapInArrow) from their own environment: without this, whatever copy of govlake the
        # workers' venv has installed, not the code this driver runs. The driver's checkout, at
        # the same path: a cluster on this machine or a shared filesystem, like PYSPARK_PYTHON.
        builder = builder.config(_EXECUTOR_PYTHONPATH, str(PROJECT_ROOT))
    for key, value in extra_conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    if settings.spark_master.startswith("local") and _MIN_SPLITS not in extra_conf:
        # Spark sizes file splits as total bytes / parallelism: a mid-sized batch (one file of a
        # few row groups) became two splits of very unequal size, and one core did most of the
        # standardisation alone. Four splits per core even the load out; tiny tables stay one
        # split (a split is never smaller than spark.sql.files.openCostInBytes, 4 MB).
        spark.conf.set(_MIN_SPLITS, str(4 * spark.sparkContext.defaultParallelism))
    _register_data_sources(spark)
    return spark


def _register_data_sources(spark: SparkSession) -> None:
    from jobs.lake.bridge import register_delta_bridge

    register_delta_bridge(spark)

"""What every ingestion step of one resource works with: its settings, catalog entry, clock and
tables, the writer lock, write ids, and (only when a step needs one) the Spark session."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobs import arrow_memory
from jobs.catalog.loader import load_catalog
from jobs.catalog.models import Catalog, Resource
from jobs.ingest.lock import resource_lock
from jobs.ingest.readers import ReadLimits
from jobs.lake import ledger
from jobs.lake.registry import LakeTable
from jobs.settings import Settings

if TYPE_CHECKING:  # a session is started only where a step asks for ctx.spark
    from pyspark.sql import SparkSession


@dataclass
class Context:
    settings: Settings
    resource: Resource
    catalog: Catalog
    #: When this step runs (from the settings' clock): every row it writes carries it.
    now: dt.datetime
    given_spark: SparkSession | None = None

    @property
    def spark(self) -> SparkSession:
        """The Spark session, started only by the steps that need one: landing, accounting and
        a promotion on the Arrow runner (:mod:`jobs.ingest.promote`) never do."""
        if self.given_spark is None:
            from jobs.spark import get_spark

            self.given_spark = get_spark(self.settings)
        return self.given_spark

    def uri(self, table: LakeTable) -> str:
        """Where ``table`` is: for a per-resource family, this resource's own table."""
        parts = self.dept_res if table.is_family else ()
        return table.uri(self.settings, *parts)

    @property
    def read_limits(self) -> ReadLimits:
        return ReadLimits.from_settings(self.settings)

    @property
    def dept_res(self) -> tuple[str, str]:
        return self.resource.department, self.resource.resource

    def resource_rows(self, table: LakeTable, **equals: str) -> list[dict]:
        """This resource's rows of a small governance table (file log, outcomes), via delta-rs."""
        department, resource = self.dept_res
        filters = [("department", "=", department), ("resource", "=", resource)]
        filters += [(column, "=", value) for column, value in equals.items()]
        return ledger.read_rows(self.uri(table), filters)


def open_context(resource_id: str, settings: Settings, spark: SparkSession | None) -> Context:
    # Every ingestion step opens one: the process's Arrow buffers come from the chosen pool
    # before the step makes any (a no-op after the first).
    arrow_memory.use_pool(settings.arrow_memory_pool)
    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
    return Context(settings, catalog.resource(resource_id), catalog, settings.now(), spark)


def one_writer(step: Callable[..., dict]) -> Callable[..., dict]:
    """Runs an ingestion step under the resource's writer lock (:mod:`jobs.ingest.lock`): a
    second run of the same resource, from the CLI, Airflow or another scheduler, waits."""

    @functools.wraps(step)
    def locked(resource_id: str, settings: Settings, **kwargs) -> dict:
        with resource_lock(settings, resource_id):
            return step(resource_id, settings, **kwargs)

    return locked


def write_id(*parts: str) -> str:
    return "/".join(parts)

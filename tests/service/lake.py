"""One small lake for the service's data tests: base tables, a gated pool, grants and refreshed
shares, built once per module (Spark writes the tables and refreshes the shares; the service
reads them through delta-rs). Tests that change grants use consumers no other test reads as.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from jobs.lake import tables
from jobs.quality.gates import GateDecision, append_decisions, decision_row
from jobs.settings import Settings, pinned_clock
from jobs.share import grants
from jobs.share.keys import ShareKey
from jobs.share.refresh import refresh_shares
from jobs.store.roles import APPROVER, DATA_OFFICER, Actor
from tests.share.conftest import POPULATION_ROWS, POPULATION_SCHEMA

TODAY = dt.date(2025, 3, 3)
SHARE_KEY = ShareKey(b"service-test-key", "test")
POPULATION_FIELDS = ["person_id", "person_name", "gender", "birth_date", "phone_number"]
INSURED_FIELDS = ["person_id", "full_name", "insurance_status", "employer_name"]
#: One row per insured person per batch; batch b2 is held by the quality gate.
INSURED_ROWS = [
    ("11010119900307002X", "张三", "pension", "active", '=HYPERLINK("http://x","点")', "b1"),
    ("110101198512120017", "欧阳娜娜", "medical", "terminated", "+86 某公司", "b1"),
    ("110101200001010011", "李四", "medical", "active", "@SUM(A1:A9)", "b1"),
    ("110101200101010014", "王五", "pension", "active", "-2+3", "b1"),
    ("110101200201010017", "赵六", "pension", "suspended", "\tcmd", "b1"),
    ("110101200301010010", "钱七", "pension", "active", None, "b1"),
    ("110101197001010019", "孙held", "pension", "active", "held batch", "b2"),
]
#: One row per legal entity; a null row too.
LEGAL_ENTITY_ROWS = [
    ("91110000100000000A", "某某科技有限公司", "active", dt.date(2010, 5, 1)),
    ("91110000200000000B", "另一家公司", "deregistered", None),
    ("91110000300000000C", None, None, None),
]
LEGAL_ENTITY_SCHEMA = "uscc string, entity_name string, entity_status string, established_on date"
INSURED_SCHEMA = (
    "person_id string, full_name string, insurance_type string, insurance_status string, "
    "employer_name string, batch_id string"
)


def at_day(settings: Settings, day: dt.date) -> Settings:
    """The settings read at noon (Beijing) of ``day``."""
    return settings.with_clock(pinned_clock(dt.datetime.combine(day, dt.time(4), dt.UTC)))


def grant(settings: Settings, consumer: str, dataset: str, fields: list[str], **kw) -> dict:
    """A granted share: unconditional at once, conditional approved by the provider."""
    request = grants.request_share(
        settings,
        consumer=consumer,
        dataset_id=dataset,
        fields=fields,
        purpose=kw.pop("purpose", "低保核验"),
        by=Actor(f"{consumer}.li", consumer, frozenset({DATA_OFFICER})),
        today=TODAY,
        **kw,
    )
    if request["state"] == grants.PENDING:
        provider = grants.provider_of(settings, dataset)
        request = grants.decide_request(
            settings,
            request["request_id"],
            True,
            by=Actor(f"{provider}.zhao", provider, frozenset({APPROVER})),
            why="依法履职",
            expires_on=dt.date(2025, 12, 31),
            today=TODAY,
        )
    return request


@pytest.fixture(scope="module")
def service_lake(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    settings = at_day(
        Settings(
            lake_root=str(root / "lake"),
            landing_root=str(root / "landing"),
            reports_root=str(root / "reports"),
            reid_root=str(root / "reid"),
            backup_root=str(root / "backups"),
            spark_master="local[2]",
            shuffle_partitions=2,
        ),
        TODAY,
    )
    population = spark.createDataFrame(POPULATION_ROWS, POPULATION_SCHEMA)
    tables.write_table(population, tables.table_uri(settings, "base", "population"))
    legal_entity = spark.createDataFrame(LEGAL_ENTITY_ROWS, LEGAL_ENTITY_SCHEMA)
    tables.write_table(legal_entity, tables.table_uri(settings, "base", "legal_entity"))
    insured = spark.createDataFrame(INSURED_ROWS, INSURED_SCHEMA)
    tables.write_table(insured, tables.table_uri(settings, "pool", "rsj", "insured"))
    rows = [
        decision_row(
            "rsj",
            "insured",
            batch,
            GateDecision(status, (), (), status),
            1,
            0,
            "v1",
            settings.now(),
        )
        for batch, status in (("b1", "passed"), ("b2", "held"))
    ]
    append_decisions(settings, rows, "service-test-gate")
    grant(settings, "mzj", "population", POPULATION_FIELDS)
    grant(settings, "mzj", "rsj.insured", INSURED_FIELDS)
    grant(settings, "jyj", "population", ["person_id", "gender"])  # revoked by a test
    grant(settings, "swj", "population", ["gender"], expires_on=TODAY + dt.timedelta(days=5))
    grant(settings, "mzj", "legal_entity", ["entity_name", "entity_status", "established_on"])
    # 核验 only: match / no match answers, no rows (wjw's is revoked by a test)
    grant(settings, "rsj", "population", ["person_name", "birth_date"], kind=grants.VERIFY)
    grant(settings, "wjw", "population", ["person_name"], kind=grants.VERIFY)
    refresh_shares(spark, settings, today=TODAY, key=SHARE_KEY)
    return settings


@pytest.fixture
def small_pages(service_lake):
    return dataclasses.replace(service_lake, service_max_rows=2)

"""A tiny county's governance rows for the report tests, in the real tables' schemas.

Judged on TODAY (Monday 2025-06-30):
* gaj (公安局) — three batches of hukou (scores rising) and one of driving_licence; fresh.
* scjgj (市场监督管理局) — failing: enterprise's latest batch held (validity 60%), a rectification
  task past its deadline, an extended ticket; one file quarantined.
* mzj and swj — only tickets; jyj (教育局) and the rest — nothing at all (empty states).
* tickets: one overdue (gaj), one open for gaj+mzj, one extended (scjgj), one resolved on time
  (swj), one confirmed late (gaj).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from jobs.govern.tickets import TICKET_SCHEMA
from jobs.ingest.pipeline import INGEST_FILES_SCHEMA
from jobs.ingest.promote import POOL_BATCHES_SCHEMA
from jobs.lake import ledger
from jobs.lake.paths import table_uri
from jobs.quality.rectification import TASKS_SCHEMA
from jobs.quality.scorecards import QUALITY_SCORECARDS_SCHEMA

TODAY = dt.date(2025, 6, 30)
UTC = dt.UTC


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


def scorecard(dept, res, batch, day, dims, status="passed", rows=100, failed=0):
    names = ("completeness", "validity", "uniqueness", "consistency", "timeliness", "accuracy")
    scores = dict(zip(names, dims, strict=True))
    present = [v for v in dims if v is not None]
    return {
        "department": dept,
        "resource": res,
        "batch_id": batch,
        "row_count": rows,
        **scores,
        "overall": sum(present) / len(present) if present else None,
        "checks_run": 10,
        "checks_failed": failed,
        "status": status,
        "suite_version": "v1",
        "scored_at": at(day),
    }


SCORECARDS = [
    scorecard("gaj", "hukou", "b1", "2025-04-01", (0.90, 0.92, 1.0, 0.95, 1.0, None)),
    scorecard("gaj", "hukou", "b2", "2025-05-01", (0.95, 0.96, 1.0, 0.97, 1.0, None)),
    scorecard("gaj", "hukou", "b3", "2025-06-01", (0.99, 0.98, 1.0, 1.0, 1.0, None)),
    scorecard("gaj", "driving_licence", "d1", "2025-06-20", (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)),
    scorecard("scjgj", "enterprise", "e1", "2025-05-10", (0.97, 0.95, 1.0, 1.0, 1.0, 0.9)),
    scorecard(
        "scjgj",
        "enterprise",
        "e2",
        "2025-06-05",
        (0.95, 0.60, 1.0, 0.8, 1.0, 0.9),
        status="held",
        failed=2,
    ),
]


def task(task_id, status, deadline, closed_on=None):
    return {
        "task_id": task_id,
        "department": "scjgj",
        "resource": "enterprise",
        "expectation": f"uscc_valid_{task_id}",
        "dimension": "validity",
        "severity": "critical",
        "status": status,
        "opened_batch_id": "e1",
        "last_failed_batch_id": "e2",
        "failures": 1,
        "unexpected": 20,
        "message": f"scjgj.enterprise: uscc_valid_{task_id} failed in batch e2: 20/50 rows (40.00%)",
        "detected_on": dt.date(2025, 6, 5),
        "deadline": dt.date.fromisoformat(deadline),
        "deadline_provisional": False,
        "workdays": 5,
        "workdays_source": "test",
        "profile": "hebi",
        "closed_batch_id": None,
        "closed_on": closed_on,
        "closed_late": None if closed_on is None else False,
        "updated_at": at("2025-06-05"),
    }


# The stored status of t1 is still "open" (the pipeline has not run since its deadline):
# the report must show it as overdue.
TASKS = [task("t1", "open", "2025-06-12"), task("t2", "closed", "2025-05-20", dt.date(2025, 5, 18))]


def ticket(ticket_id, departments, base, element, state, opened, deadline, **more):
    row = dict.fromkeys(TICKET_SCHEMA.names)
    row.update(
        ticket_id=ticket_id,
        issue_type="conflict" if element else "anomaly",
        rule=more.pop("rule", None),
        element=element,
        key_kind="citizen_id" if base == "population" else "uscc",
        key=f"KEY-{ticket_id}",
        base=base,
        base_keys=[f"KEY-{ticket_id}"],
        assigned_departments=departments,
        resources=[],
        state=state,
        cycle=1,
        opened_on=dt.date.fromisoformat(opened),
        deadline=dt.date.fromisoformat(deadline),
        deadline_provisional=False,
        extensions=0,
        updated_at=at(opened),
    )
    row.update(more)
    return row


TICKETS = [
    ticket("T-OVERDUE", ["gaj"], "population", "gender", "overdue", "2025-06-02", "2025-06-16"),
    ticket(
        "T-OPEN", ["gaj", "mzj"], "population", "marital_status", "open", "2025-06-25", "2025-07-09"
    ),
    ticket(
        "T-EXTENDED",
        ["scjgj"],
        "legal_entity",
        "entity_name",
        "extended",
        "2025-06-10",
        "2025-07-08",
        extensions=1,
    ),
    ticket(
        "T-RESOLVED",
        ["swj"],
        "legal_entity",
        None,
        "resolved",
        "2025-05-06",
        "2025-05-20",
        rule="deregistered_but_tax_active",
        closed_on=dt.date(2025, 5, 19),
        closed_by="swj",
    ),
    ticket(
        "T-LATE",
        ["gaj"],
        "population",
        "birth_date",
        "confirmed",
        "2025-04-01",
        "2025-04-15",
        closed_on=dt.date(2025, 4, 20),
        closed_by="gaj",
    ),
]

CONFLICTS_SCHEMA = pa.schema(
    [
        ("issue_id", pa.string()),
        ("issue_type", pa.string()),
        ("rule", pa.string()),
        ("element", pa.string()),
        ("key", pa.string()),
        ("base", pa.string()),
        ("departments", pa.list_(pa.string())),
        ("ticket_state", pa.string()),
    ]
)
# The latest build still finds every issue but the resolved one.
CONFLICTS = [
    {
        "issue_id": t["ticket_id"],
        "issue_type": t["issue_type"],
        "rule": t["rule"],
        "element": t["element"],
        "key": t["key"],
        "base": t["base"],
        "departments": t["assigned_departments"],
        "ticket_state": t["state"],
    }
    for t in TICKETS
    if t["state"] != "resolved"
]


def file_row(dept, res, batch, name, status, rows, day):
    row = dict.fromkeys(INGEST_FILES_SCHEMA.names)
    row.update(
        department=dept,
        resource=res,
        batch_id=batch,
        source_file=name,
        status=status,
        file_rows=rows,
        bronze_rows=rows if status == "ingested" else 0,
        columns=[],
        ingested_at=at(day),
    )
    return row


INGEST_FILES = [
    file_row("gaj", "hukou", "b3", "hukou.csv", "ingested", 100, "2025-06-29"),
    file_row("gaj", "driving_licence", "d1", "dl.csv", "ingested", 20, "2025-06-20"),
    file_row("scjgj", "enterprise", "e2", "ent.csv", "ingested", 50, "2025-06-05"),
    file_row("scjgj", "enterprise", "e2", "ent_broken.xlsx", "quarantined", None, "2025-06-05"),
]


def outcome(dept, res, batch, name, pool, quarantined, duplicates, held, day):
    return {
        "department": dept,
        "resource": res,
        "batch_id": batch,
        "source_file": name,
        "outcome": "promoted",
        "pool_rows": pool,
        "quarantined_rows": quarantined,
        "duplicate_rows": duplicates,
        "held_rows": held,
        "warning_rows": 0,
        "extra_columns": [],
        "message": None,
        "decided_at": at(day),
    }


POOL_BATCHES = [
    outcome("gaj", "hukou", "b3", "hukou.csv", 90, 8, 2, 0, "2025-06-29"),
    outcome("gaj", "driving_licence", "d1", "dl.csv", 20, 0, 0, 0, "2025-06-20"),
    outcome("scjgj", "enterprise", "e2", "ent.csv", 0, 10, 0, 40, "2025-06-05"),
]


def write_sample_lake(settings) -> None:
    """Writes every table above under ``settings.lake_root`` (delta-rs, no Spark)."""
    tables = {
        "quality_scorecards": (SCORECARDS, QUALITY_SCORECARDS_SCHEMA),
        "rectification_tasks": (TASKS, TASKS_SCHEMA),
        "verification_tickets": (TICKETS, TICKET_SCHEMA),
        "conflicts": (CONFLICTS, CONFLICTS_SCHEMA),
        "ingest_files": (INGEST_FILES, INGEST_FILES_SCHEMA),
        "pool_batches": (POOL_BATCHES, POOL_BATCHES_SCHEMA),
    }
    for name, (rows, schema) in tables.items():
        ledger.append_rows(table_uri(settings, "governance", name), rows, schema, f"sample/{name}")

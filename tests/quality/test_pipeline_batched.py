from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from jobs.lake import ledger, tables
from jobs.lake.paths import table_uri
from jobs.quality import gates
from jobs.quality.pipeline import validate_pool_batch
from jobs.settings import Settings

from .conftest import BOB, hukou_row, make_pool_df
from .test_pipeline import B2_AT, OTHERS, at, batch_one, ingested

pytestmark = [pytest.mark.spark, pytest.mark.slow]

GOVERNANCE = (
    "quality_batches",
    "quality_failing_rows",
    "quality_results",
    "quality_scorecards",
    "rectification_tasks",
)


def batch_two_with_a_bad_row() -> list[dict]:
    rows = [hukou_row("b2", 1, BOB, gender="2")]  # gender disagrees with the ID again
    rows += [hukou_row("b2", 2 + i, pid) for i, pid in enumerate(OTHERS)]
    return [ingested(r, B2_AT) for r in rows]


def lake(root: Path) -> Settings:
    return Settings(
        lake_root=str(root / "lake"),
        landing_root=str(root / "landing"),
        reports_root=str(root / "reports"),
        spark_master="local[2]",
        shuffle_partitions=2,
        policy_profile="hebi",
    )


def append_pool(spark, settings, rows):
    uri = table_uri(settings, "pool", "gaj", "hukou")
    tables.write_table(make_pool_df(spark, "gaj.hukou", rows), uri, mode="append")


def validate(spark, settings):
    return validate_pool_batch("gaj.hukou", at(settings, B2_AT), spark=spark, raise_on_hold=False)


def governance(settings) -> dict[str, list]:
    out = {}
    for name in GOVERNANCE:
        rows = ledger.read_rows(table_uri(settings, "governance", name))
        out[name] = sorted(rows, key=repr)
    return out


@pytest.fixture(scope="module")
def together(spark, tmp_path_factory):
    settings = lake(tmp_path_factory.mktemp("together"))
    append_pool(spark, settings, batch_one() + batch_two_with_a_bad_row())
    summary = validate(spark, settings)
    return settings, summary


@pytest.fixture(scope="module")
def one_by_one(spark, tmp_path_factory):
    settings = lake(tmp_path_factory.mktemp("one_by_one"))
    append_pool(spark, settings, batch_one())
    first = validate(spark, settings)
    append_pool(spark, settings, batch_two_with_a_bad_row())
    second = validate(spark, settings)
    return settings, first["batches"] + second["batches"]


@pytest.fixture(scope="module")
def on_spark(spark, tmp_path_factory):
    # Above the Arrow path's limit: GX's Spark engine validates the same two batches.
    settings = dataclasses.replace(lake(tmp_path_factory.mktemp("on_spark")), arrow_max_rows=1)
    append_pool(spark, settings, batch_one() + batch_two_with_a_bad_row())
    return settings, validate(spark, settings)


def without_timings(batches):
    return [{k: v for k, v in b.items() if k != "seconds"} for b in batches]


def without_engine(batches):
    return [{k: v for k, v in b.items() if k not in ("seconds", "engine")} for b in batches]


def test_pending_batches_validated_together_record_what_one_by_one_records(together, one_by_one):
    settings, summary = together
    apart_settings, apart_batches = one_by_one
    assert [b["batch_id"] for b in summary["batches"]] == ["b1", "b2"]
    assert without_timings(summary["batches"]) == without_timings(apart_batches)
    assert [(b["status"], b["failing_rows"]) for b in summary["batches"]] == [
        ("held", 3),
        ("warned", 1),
    ]
    assert governance(settings) == governance(apart_settings)


def test_both_engines_record_the_same_results_scorecards_gates_and_failing_rows(together, on_spark):
    (pandas_settings, on_pandas), (spark_settings, on_spark_) = together, on_spark
    assert [b["engine"] for b in on_pandas["batches"]] == ["pandas", "pandas"]
    assert [b["engine"] for b in on_spark_["batches"]] == ["spark", "spark"]
    assert without_engine(on_spark_["batches"]) == without_engine(on_pandas["batches"])
    by_pandas, by_spark = governance(pandas_settings), governance(spark_settings)
    # GX's pandas engine does not run the type checks (govlake judges them from the schema
    # on both engines): only GX's own columns of those rows differ.
    gx_columns = ("gx_success", "gx_unexpected", "gx_agrees")

    def without_gx_of_type_checks(rows):
        return sorted(
            (
                {k: v for k, v in r.items() if k not in gx_columns}
                if r["expectation_type"] == "expect_column_values_to_be_of_type"
                else r
                for r in rows
            ),
            key=repr,
        )

    for name in GOVERNANCE:
        if name == "quality_results":
            assert without_gx_of_type_checks(by_spark[name]) == without_gx_of_type_checks(
                by_pandas[name]
            )
        else:
            assert by_spark[name] == by_pandas[name], name
    assert len(by_pandas["quality_failing_rows"]) == 4


def test_each_batch_validated_together_has_its_gx_result_page(together):
    settings, _ = together
    site = Path(settings.reports_root) / "data_docs"
    pages = [str(p.relative_to(site)) for p in (site / "validations").rglob("*.html")]
    assert len(pages) == 2
    assert any("/b1/" in p for p in pages) and any("/b2/" in p for p in pages)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert index.count("validations/") >= 2


def test_retry_after_a_failure_writes_no_failing_row_twice(spark, tmp_path, together):
    settings = lake(tmp_path)
    append_pool(spark, settings, batch_one() + batch_two_with_a_bad_row())
    append_decisions = gates.append_decisions

    def fail_on_b2(settings_, rows, write_id):
        if rows[0]["batch_id"] == "b2":
            raise RuntimeError("lost the worker")
        return append_decisions(settings_, rows, write_id)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gates, "append_decisions", fail_on_b2)
        with pytest.raises(RuntimeError, match="lost the worker"):
            validate(spark, settings)
    # The retry finds b2 alone pending; its failing rows were written by the first attempt.
    (retried,) = validate(spark, settings)["batches"]
    assert (retried["batch_id"], retried["failing_rows"]) == ("b2", 1)
    got = governance(settings)
    assert got["quality_failing_rows"] == governance(together[0])["quality_failing_rows"]
    assert [r["batch_id"] for r in got["quality_batches"]] == ["b1", "b2"]

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jobs.ingest import pipeline
from jobs.ingest.promote import runs_on_spark
from jobs.ingest.promote_arrow import (
    _repeats_by_sorting_texts,
    _repeats_in_row_order,
    counts_by_file,
    with_disposition,
)
from jobs.lake import ledger
from jobs.lake.paths import table_uri
from jobs.settings import Settings
from tests.ingest.test_pipeline import HEADER, _deliver, _id, _row, at_now

IDS = [_id(f"33021119850615{n:03d}") for n in range(1, 6)]
#: Good rows next to bad ones: an exact repeat, a bad check character, a bad birth date, a
#: missing name, and a later batch that repeats a row of the first and corrects nothing else.
FIRST = (
    HEADER
    + _row(IDS[0])
    + _row(IDS[1], "李四", "女")
    + _row(IDS[0])
    + _row(IDS[2][:-1] + ("0" if IDS[2][-1] != "0" else "1"))
    + _row(IDS[3]).replace("1985-06-15", "1985-13-45")
    + _row(IDS[4], "")
)
SECOND = HEADER + _row(IDS[1], "李四", "女") + _row(IDS[4], "王五") + _row(IDS[4], "王五")


def _keys(table: dict) -> pa.Table:
    return pa.table(
        {
            "content_hash": pa.array(table["hash"], pa.string()),
            "batch_id": pa.array(table["batch"], pa.string()),
            "source_file": pa.array(["f.csv"] * len(table["hash"]), pa.string()),
            "row_number": pa.array(table["row"], pa.int64()),
            "problems": pa.array(table["problems"], pa.list_(pa.string())),
            "warnings": pa.array([[]] * len(table["hash"]), pa.list_(pa.string())),
        }
    )


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


#: Content hashes as the pool writes them (hex SHA-256: sorted as integers) and short texts
#: (sorted as texts): both ways must find the same duplicates.
HASHES = pytest.mark.parametrize("hashed", [_sha, lambda text: text], ids=["sha256", "text"])


@HASHES
def test_repeats_after_the_first_in_row_order_and_rows_already_pooled_are_duplicates(hashed):
    rows = _keys(
        {
            "hash": [hashed(h) for h in ["a", "a", "b", "c", "a", "d", "d"]],
            "batch": ["b2", "b1", "b1", "b1", "b1", "b1", "b1"],
            "row": [1, 3, 1, 2, 2, 5, 4],
            # a rejected row is never a first occurrence: the accepted "d" after it is kept
            "problems": [[], [], [], [], [], [], ["name:missing"]],
        }
    )

    disposed = with_disposition(rows, pa.array([hashed("c")], pa.string()))

    assert disposed["disposition"].to_pylist() == [
        "duplicate",  # b2/1 repeats b1/2
        "duplicate",  # b1/3 repeats b1/2
        "pool",
        "duplicate",  # already in the pool
        "pool",  # b1/2: the first "a"
        "pool",
        "quarantine",
    ]
    assert counts_by_file(disposed) == {
        ("b2", "f.csv"): {
            "pool_rows": 0,
            "quarantined_rows": 0,
            "duplicate_rows": 1,
            "warning_rows": 0,
        },
        ("b1", "f.csv"): {
            "pool_rows": 3,
            "quarantined_rows": 1,
            "duplicate_rows": 2,
            "warning_rows": 0,
        },
    }


def _rows_of(hashes, batches, files, rows) -> pa.Table:
    n = len(hashes)
    return pa.table(
        {
            "content_hash": pa.array(hashes, pa.string()),
            "batch_id": pa.array(batches, pa.string()),
            "source_file": pa.array(files, pa.string()),
            "row_number": pa.array(rows, pa.int64()),
            "problems": pa.array([[]] * n, pa.list_(pa.string())),
            "warnings": pa.array([[]] * n, pa.list_(pa.string())),
        }
    )


def test_hashes_sharing_their_first_16_digits_are_still_told_apart():
    # Two different hashes with the same 64-bit prefix, their rows interleaved in row order:
    # grouped by prefix alone the second "b" would look like a repeat of "a".
    a, b = "0123456789abcdef" + "0" * 48, "0123456789abcdef" + "f" * 48
    table = _rows_of([b, a, b, a, None, None], ["b1"] * 6, ["f.csv"] * 6, [4, 1, 2, 3, 5, 6])
    everyone = np.arange(table.num_rows)

    repeats = _repeats_in_row_order(table, everyone, table["content_hash"].combine_chunks())

    assert repeats.tolist() == [True, False, False, True, False, False]
    assert repeats.tolist() == _repeats_by_sorting_texts(table, everyone).tolist()


def test_hashes_of_another_length_are_compared_as_texts():
    table = _rows_of(["abc", "ab", "abc"], ["b1"] * 3, ["f.csv"] * 3, [1, 2, 3])
    hashes = table["content_hash"].combine_chunks()
    assert _repeats_in_row_order(table, np.arange(3), hashes).tolist() == [False, False, True]


_HASH_POOL = [_sha(str(n)) for n in range(6)] + [None]


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_HASH_POOL),
            st.sampled_from(["20250101T000000_full", "20250108T000000_incr", None]),
            st.sampled_from(["a.csv", "b.csv", "c.csv"]),
            st.one_of(st.none(), st.integers(1, 9)),
        ),
        max_size=40,
    ),
    st.data(),
)
def test_integer_sort_finds_the_repeats_the_text_sort_finds(rows, data):
    table = _rows_of(*zip(*rows, strict=True)) if rows else _rows_of([], [], [], [])
    chosen = np.array(
        sorted(data.draw(st.sets(st.integers(0, max(len(rows) - 1, 0))))) if rows else [],
        dtype=np.int64,
    )
    hashes = table["content_hash"].take(chosen).combine_chunks()
    assert (
        _repeats_in_row_order(table, chosen, hashes).tolist()
        == _repeats_by_sorting_texts(table, chosen).tolist()
    )


def test_no_rows_no_duplicates():
    empty = _keys({"hash": [], "batch": [], "row": [], "problems": []})
    assert with_disposition(empty, pa.array([], pa.string()))["disposition"].to_pylist() == []


def test_a_cluster_or_a_large_promotion_runs_on_spark():
    small = Settings(arrow_max_rows=1000)
    assert not runs_on_spark(small, 1000)
    assert runs_on_spark(small, 1001)
    assert runs_on_spark(dataclasses.replace(small, spark_master="spark://master:7077"), 10)


@pytest.mark.spark
def test_small_batch_is_promoted_without_starting_spark(lake_settings, monkeypatch):
    def no_spark(*_args, **_kwargs):
        raise AssertionError("Spark was started for a small batch")

    monkeypatch.setattr("jobs.spark.get_spark", no_spark)
    _deliver(lake_settings, "20250101T000000_full", "hukou.csv", FIRST)

    result = pipeline.ingest_resource("gaj.hukou", at_now(lake_settings))

    assert result["row_accounting"]["balanced"]
    assert (result["bronze_to_pool"]["pool_rows"], result["bronze_to_pool"]["duplicate_rows"]) == (
        2,
        1,
    )
    pool = ledger.read_rows(table_uri(lake_settings, "pool", "gaj", "hukou"))
    assert sorted(r["person_id"] for r in pool) == [IDS[0], IDS[1]]


@pytest.mark.spark
def test_an_increment_looks_up_only_its_own_rows_in_the_pool(lake_settings, monkeypatch):
    # What the duplicate check is given as earlier hashes: the pool's hashes of the increment's
    # own rows, not every hash the pool holds (which made an increment's cost grow with the pool).
    import jobs.ingest.promote_arrow as promote_arrow

    given = []
    decide = promote_arrow.with_disposition

    def recorded(standardized, earlier_hashes):
        given.append(sorted(earlier_hashes.to_pylist()))
        return decide(standardized, earlier_hashes)

    monkeypatch.setattr(promote_arrow, "with_disposition", recorded)
    persons = [_id(f"33021119900101{n:03d}") for n in range(1, 6)]
    names = ["赵一", "钱二", "孙三", "李四", "周五"]
    _deliver(
        lake_settings,
        "20250101T000000_full",
        "hukou.csv",
        HEADER + "".join(_row(p, name) for p, name in zip(persons, names, strict=True)),
    )
    pipeline.ingest_resource("gaj.hukou", at_now(lake_settings))
    pool_uri = table_uri(lake_settings, "pool", "gaj", "hukou")
    first_hashes = {r["person_id"]: r["content_hash"] for r in ledger.read_rows(pool_uri)}
    # one row the pool has, one new person
    _deliver(
        lake_settings,
        "20250102T000000_incr",
        "hukou.csv",
        HEADER + _row(persons[3], "李四") + _row(IDS[0]),
    )

    second = pipeline.ingest_resource("gaj.hukou", at_now(lake_settings))

    assert len(first_hashes) == 5
    assert given == [[], [first_hashes[persons[3]]]]
    assert (second["bronze_to_pool"]["pool_rows"], second["bronze_to_pool"]["duplicate_rows"]) == (
        1,
        1,
    )


def _table(settings: Settings, *parts: str, without: tuple[str, ...] = ()) -> list[str]:
    rows = ledger.read_rows(table_uri(settings, *parts))
    return sorted(repr(sorted((k, v) for k, v in r.items() if k not in without)) for r in rows)


@pytest.mark.spark
@pytest.mark.slow
def test_both_runners_promote_the_same_batches_alike(spark, tmp_path):
    from tests.conftest import settings_under

    # rows per promotion above which Spark runs: for the first delivery, then the second
    # (the mixed lake's second promotion appends on Spark to tables delta-rs created)
    limits = {"in_process": (10_000, 10_000), "spark": (0, 0), "mixed": (10_000, 0)}
    lakes = {runner: settings_under(tmp_path / runner) for runner in limits}
    summaries = {}
    for runner, settings in lakes.items():
        first_limit, second_limit = limits[runner]
        first_settings = dataclasses.replace(settings, arrow_max_rows=first_limit)
        _deliver(settings, "20250101T000000_full", "hukou.csv", FIRST)
        first = pipeline.ingest_resource("gaj.hukou", at_now(first_settings), spark=spark)
        second_settings = dataclasses.replace(settings, arrow_max_rows=second_limit)
        _deliver(settings, "20250102T000000_incr", "hukou.csv", SECOND)
        second = pipeline.ingest_resource("gaj.hukou", at_now(second_settings), spark=spark)
        summaries[runner] = (first["bronze_to_pool"], second["bronze_to_pool"])

    in_process = lakes["in_process"]
    for runner in ("spark", "mixed"):
        assert summaries[runner] == summaries["in_process"], runner
        for parts in (
            ("pool", "gaj", "hukou"),
            ("quarantine", "gaj", "hukou"),
            ("governance", "pool_batches"),
        ):
            assert _table(lakes[runner], *parts) == _table(in_process, *parts), (runner, parts)
        accounting = ("governance", "row_accounting")
        assert _table(lakes[runner], *accounting, without=("checked_at",)) == _table(
            in_process, *accounting, without=("checked_at",)
        )
    # the second batch: one repeat of the first batch's pool, one new row and its repeat
    assert summaries["spark"][1]["pool_rows"] == 1
    assert summaries["spark"][1]["duplicate_rows"] == 2


def test_a_field_added_by_an_approved_catalog_revision_is_a_new_pool_column(
    lake_settings, monkeypatch
):
    from jobs import yamlconf
    from jobs.catalog import revisions

    monkeypatch.setattr("jobs.spark.get_spark", lambda *_a, **_k: None)
    _deliver(lake_settings, "20250101T000000_full", "hukou.csv", HEADER + _row(IDS[0]))
    pipeline.ingest_resource("gaj.hukou", at_now(lake_settings))
    entry = revisions.plain(yamlconf.read(f"{lake_settings.schemas_root}/resources/gaj/hukou.yaml"))
    entry["fields"].append(
        {
            "name": "employer",
            "element": "employer_name",
            "source_columns": ["工作单位"],
            "required": False,
            "sensitivity": "personal",
        }
    )
    revision = revisions.Revision(1, "gaj.hukou", entry, "gaj_officer", "steward", "2025-01-08")
    revisions.write_revision(lake_settings.catalog_revisions_root, revision)
    employed = HEADER.replace("\n", ",工作单位\n") + _row(IDS[1]).replace("\n", ",镇海港务局\n")
    _deliver(lake_settings, "20250102T000000_delta", "hukou.csv", employed)

    result = pipeline.ingest_resource("gaj.hukou", at_now(lake_settings))

    assert result["row_accounting"]["balanced"]
    pool = ledger.read_rows(table_uri(lake_settings, "pool", "gaj", "hukou"))
    assert sorted((r["person_id"], r["employer"]) for r in pool) == [
        (IDS[0], None),
        (IDS[1], "镇海港务局"),
    ]

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from jobs.lake import ledger, tables
from jobs.settings import PROJECT_ROOT
from jobs.share.open_data import OPEN_DATA_FILE, TOTAL, load_open_config, suppress_small_cells
from jobs.share.policy import SharePolicyError

DIMS = ["district", "sex"]


def _cells(rows):
    return [{"district": d, "sex": s, "count": n} for d, s, n in rows]


def _shown(rows):
    return [(r["district"], r["sex"], r["count"], r["is_suppressed"]) for r in rows]


def test_cells_at_or_above_k_are_published_with_their_total():
    rows = suppress_small_cells(_cells([("110101", "1", 7), ("110101", "2", 5)]), DIMS, 5)
    assert _shown(rows) == [
        ("110101", "1", 7, False),
        ("110101", "2", 5, False),
        ("110101", TOTAL, 12, False),
    ]


def test_single_small_cell_gets_a_complementary_suppression():
    # 3 alone could be recovered as 20 - 9 - 8; hiding the smallest other cell (8) prevents it
    rows = suppress_small_cells(_cells([("a", "1", 9), ("a", "2", 3), ("a", "9", 8)]), DIMS, 5)
    assert _shown(rows) == [
        ("a", "1", 9, False),
        ("a", "2", None, True),
        ("a", "9", None, True),
        ("a", TOTAL, 20, False),
    ]


def test_two_small_cells_summing_below_k_take_a_third():
    rows = suppress_small_cells(
        _cells([("a", "1", 1), ("a", "2", 2), ("a", "9", 6), ("a", "0", 30)]), DIMS, 5
    )
    assert [r["sex"] for r in rows if r["is_suppressed"]] == ["1", "2", "9"]
    assert rows[-1]["count"] == 39


def test_group_below_k_is_suppressed_whole_and_groups_stay_apart():
    rows = suppress_small_cells(
        _cells([("a", "1", 2), ("a", "2", 1), ("b", "1", 5), ("b", "2", 6)]), DIMS, 5
    )
    assert _shown(rows) == [
        ("a", "1", None, True),
        ("a", "2", None, True),
        ("a", TOTAL, None, True),
        ("b", "1", 5, False),
        ("b", "2", 6, False),
        ("b", TOTAL, 11, False),
    ]


def test_no_suppressed_cell_can_be_recovered_from_its_total():
    import itertools

    counts = [1, 2, 4, 5, 6, 9]
    for combo in itertools.product(counts, repeat=3):
        cells = _cells([("a", s, n) for s, n in zip("129", combo, strict=True)])
        rows = suppress_small_cells(cells, DIMS, 5)
        hidden = [r for r in rows if r["is_suppressed"] and not r["is_total"]]
        total = rows[-1]
        assert all(r["count"] is None or r["count"] >= 5 for r in rows)
        if hidden and not total["is_suppressed"]:
            hidden_sum = total["count"] - sum(r["count"] for r in rows[:-1] if r["count"])
            assert len(hidden) >= 2 and hidden_sum >= 5, combo


@pytest.mark.spark
def test_publish_open_data_and_open_list(spark, lake_settings):
    from jobs.share.open_data import publish_open_data

    settings = dataclasses.replace(lake_settings, open_min_cell_count=2)
    people = [(f"p{i}", "110101", dt.date(1990, 1, 1), "1") for i in range(3)] + [
        ("p3", "110101", dt.date(1990, 6, 1), "2"),
        ("p4", "110102", dt.date(1950, 1, 1), "2"),
        ("p5", None, None, None),
        (None, "110101", dt.date(1990, 1, 1), "1"),  # no subject: not counted
    ]
    tables.write_table(
        spark.createDataFrame(
            people, "person_id string, domicile_region string, birth_date date, gender string"
        ),
        tables.table_uri(settings, "base", "population"),
    )
    enterprises = spark.createDataFrame(
        [("91110000100000000A", "某公司", "张三", "11010119900307002X")],
        "uscc string, entity_name string, legal_representative_name string, legal_representative_id string",
    )
    tables.write_table(enterprises, tables.table_uri(settings, "pool", "scjgj", "enterprise"))
    tables.write_table(
        enterprises.select("uscc", "entity_name"),
        tables.table_uri(settings, "pool", "scjgj", "business_licence"),
    )

    result = publish_open_data(spark, settings, as_of=dt.date(2025, 3, 3))
    assert result["published"]["population_by_district_age_sex"] == 8
    assert "enterprises_by_industry_district" in result["missing_sources"]
    cells = ledger.read_rows(tables.table_uri(settings, "open", "population_by_district_age_sex"))
    shown = {(r["district"], r["age_band"], r["sex"]): r["count"] for r in cells}
    assert shown == {
        ("110101", "35-44", "1"): 3,
        ("110101", "35-44", TOTAL): 3,
        # born 1990-06-01: still 34 on 2025-03-03; alone in its group, so hidden with its total
        ("110101", "25-34", "2"): None,
        ("110101", "25-34", TOTAL): None,
        ("110102", "65+", "2"): None,
        ("110102", "65+", TOTAL): None,
        ("unknown", "unknown", "unknown"): None,
        ("unknown", "unknown", TOTAL): None,
    }
    opened = tables.read_table(spark, tables.table_uri(settings, "open", "scjgj.enterprise"))
    assert opened.columns == ["uscc", "entity_name", "legal_representative_name"]
    listing = {
        r["dataset"]: r for r in ledger.read_rows(tables.table_uri(settings, "open", "open_list"))
    }
    # open on request (依申请开放): published for granted applications, not on the open list
    on_request = tables.table_uri(settings, "open", "scjgj.business_licence")
    assert ledger.read_rows(on_request) == [{"uscc": "91110000100000000A", "entity_name": "某公司"}]
    assert sorted(listing) == ["population_by_district_age_sex", "scjgj.enterprise"]
    enterprise = listing["scjgj.enterprise"]
    assert (enterprise["open_type"], enterprise["update_frequency"]) == ("无条件开放", "daily")
    assert enterprise["domain"] and enterprise["summary"] and enterprise["format"]
    assert "uscc(统一社会信用代码)" in enterprise["items"]


def test_a_malformed_open_data_file_names_file_and_line(tmp_path):
    shipped = (PROJECT_ROOT / "schemas" / OPEN_DATA_FILE).read_text(encoding="utf-8")
    old = "      - {name: sex, column: gender}"
    assert old in shipped
    text = shipped.replace(old, "      - {name: sex, colum: gender}").replace(
        "    subject: uscc", "    subject: [uscc]"
    )
    path = tmp_path / OPEN_DATA_FILE
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")

    with pytest.raises(SharePolicyError) as error:
        load_open_config(str(tmp_path))

    lines = text.splitlines()
    sex = next(n for n, line in enumerate(lines, 1) if "colum:" in line)
    subject = next(n for n, line in enumerate(lines, 1) if "subject: [uscc]" in line)
    message = str(error.value)
    assert (
        f"{path}:{sex}: aggregates[population_by_district_age_sex].dimensions[sex]: "
        "unknown key 'colum'"
    ) in message
    assert (
        f"{path}:{subject}: aggregates[enterprises_by_industry_district].subject: "
        "must be text, got list ['uscc']"
    ) in message

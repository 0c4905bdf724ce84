from __future__ import annotations

import pytest

from jobs.integrate import survivorship
from jobs.integrate.observations import observations_from_pools
from jobs.integrate.survivorship import attribute_values
from tests.integrate.conftest import FULL, INCR, pid, survival

pytestmark = pytest.mark.spark

P1 = pid("1980-01-01", 11)
P2 = pid("1990-05-05", 22)


def survivors(values_df, element: str) -> set[tuple]:
    return {
        (r["key"], r["value"], r["resource"], r["survived_by"], r["n_values"])
        for r in values_df.where(f"element = '{element}'").collect()
    }


def test_every_departments_value_is_kept_and_marriage_names_two_persons(pool, config):
    hukou = pool(
        "gaj.hukou",
        [{"person_id": P1, "full_name": "张三"}, {"person_id": None, "full_name": "无号"}],
    )
    marriage = pool(
        "mzj.marriage",
        [
            {
                "registration_number": "J1",
                "male_id": P1,
                "male_name": "张山",
                "female_id": P2,
                "female_name": "李四",
            }
        ],
    )
    observed = observations_from_pools({"gaj.hukou": hukou, "mzj.marriage": marriage}, config)
    rows = {
        (r["key"], r["element"], r["value"], r["resource"], r["field"], r["record_key"])
        for r in observed.where("element = 'person_name'").collect()
    }
    assert rows == {
        (P1, "person_name", "张三", "gaj.hukou", "full_name", P1),
        (P1, "person_name", "张山", "mzj.marriage", "male_name", "J1"),
        (P2, "person_name", "李四", "mzj.marriage", "female_name", "J1"),
    }


def test_authority_wins_over_a_more_recent_and_more_frequent_value(pool, config):
    pools = {
        "gaj.hukou": pool("gaj.hukou", [{"person_id": P1, "full_name": "张三"}], batch=FULL),
        "rsj.insured": pool(
            "rsj.insured",
            [{"person_id": P1, "insurance_type": "pension", "full_name": "张山"}],
            batch=INCR,
        ),
        "jyj.student": pool("jyj.student", [{"person_id": P1, "full_name": "张山"}], batch=INCR),
    }
    values = attribute_values(observations_from_pools(pools, config), config)
    assert survivors(values, "person_name") == {(P1, "张三", "gaj.hukou", "authority", 2)}
    losing = values.where("element = 'person_name'").first()["losing_values"]
    assert [(v["value"], v["resources"]) for v in losing] == [
        ("张山", ["jyj.student", "rsj.insured"])
    ]


def test_most_recent_wins_without_authority_then_most_frequent(pool, config):
    pools = {
        "rsj.insured": pool(
            "rsj.insured",
            [
                {"person_id": P1, "insurance_type": "pension", "phone": "13800000001"},
                {"person_id": P2, "insurance_type": "pension", "phone": "13800000003"},
            ],
            batch=FULL,
        ),
        "gaj.hukou": pool(
            "gaj.hukou",
            [{"person_id": P1, "phone": "13800000002"}, {"person_id": P2, "phone": "13800000004"}],
            batch=INCR,
        ),
        "jyj.student": pool("jyj.student", [{"person_id": P2}], batch=INCR),
    }
    values = attribute_values(observations_from_pools(pools, config), config)
    assert survivors(values, "phone_number") == {
        (P1, "13800000002", "gaj.hukou", "recency", 2),
        (P2, "13800000004", "gaj.hukou", "recency", 2),
    }


def test_frequency_decides_between_equally_recent_values(pool, config):
    pools = {
        "gaj.driving_licence": pool(
            "gaj.driving_licence", [{"person_id": P1, "full_name": "王五"}]
        ),
        "rsj.insured": pool(
            "rsj.insured", [{"person_id": P1, "insurance_type": "pension", "full_name": "王伍"}]
        ),
        "jyj.student": pool("jyj.student", [{"person_id": P1, "full_name": "王伍"}]),
    }
    values = attribute_values(observations_from_pools(pools, config), config)
    ((key, value, _, survived_by, n_values),) = survivors(values, "person_name")
    assert (key, value, survived_by, n_values) == (P1, "王伍", "frequency", 2)


def test_a_later_delivery_of_a_record_replaces_its_value_other_records_still_count(pool, config):
    first = pool(
        "rsj.insured",
        [
            {"person_id": P1, "insurance_type": "pension", "full_name": "张山"},
            {"person_id": P1, "insurance_type": "medical", "full_name": "张三"},
        ],
        batch=FULL,
    )
    corrected = pool(
        "rsj.insured",
        [{"person_id": P1, "insurance_type": "pension", "full_name": "张三"}],
        batch=INCR,
    )
    both = attribute_values(observations_from_pools({"rsj.insured": first}, config), config)
    assert survivors(both, "person_name") == {(P1, "张三", "rsj.insured", "tie_break", 2)}
    later = attribute_values(
        observations_from_pools({"rsj.insured": first.unionByName(corrected)}, config), config
    )
    assert survivors(later, "person_name") == {(P1, "张三", "rsj.insured", "agreement", 1)}


P3 = pid("1975-03-03", 33)


def test_agreed_attributes_settled_in_one_window_match_the_three_steps(pool, config):
    pools = {
        "gaj.hukou": pool(
            "gaj.hukou",
            [
                {"person_id": P1, "full_name": "张三", "phone": "13800000001"},
                {"person_id": P2, "full_name": "李四"},
                {"person_id": P3, "full_name": "王五"},
            ],
            batch=FULL,
        ),
        # P1's name agreed by two departments; P2's disputed; P3's phone stated twice in one
        # delivery (pension and medical records): credited to the later row.
        "rsj.insured": pool(
            "rsj.insured",
            [
                {"person_id": P1, "insurance_type": "pension", "full_name": "张三"},
                {"person_id": P2, "insurance_type": "pension", "full_name": "李斯"},
                {"person_id": P3, "insurance_type": "pension", "phone": "13900000003"},
                {"person_id": P3, "insurance_type": "medical", "phone": "13900000003"},
            ],
            batch=INCR,
        ),
    }
    observations = observations_from_pools(pools, config)

    def rows(df):
        return sorted(
            tuple(
                tuple(v) if isinstance(v, list) else v for v in r.asDict(recursive=False).values()
            )
            for r in df.select(
                "key",
                "element",
                "value",
                "resource",
                "source_file",
                "row_number",
                "survived_by",
                "n_sources",
                "n_values",
                "dissenting_departments",
            ).collect()
        )

    three_steps = (
        survivorship.with_authority(observations, survivorship.authority_triples(config))
        .transform(survivorship.current_statements)
        .transform(survivorship.value_candidates)
        .transform(survivorship.surviving_values)
    )
    shortcut = attribute_values(observations, config)
    assert rows(shortcut) == rows(three_steps)
    by = {(r["key"], r["element"]): r for r in shortcut.collect()}
    assert by[(P1, "person_name")]["survived_by"] == "agreement"
    assert by[(P1, "person_name")]["n_sources"] == 2
    assert by[(P2, "person_name")]["survived_by"] == "authority"
    assert (by[(P3, "phone_number")]["resource"], by[(P3, "phone_number")]["row_number"]) == (
        "rsj.insured",
        4,
    )


def test_base_rows_one_row_per_member_null_attributes_without_values_non_members_left_out(
    spark, pool, config
):
    p3 = pid("2000-02-02", 33)
    hukou = pool(
        "gaj.hukou",
        [
            {"person_id": P1, "full_name": "张三", "gender": "1"},
            {"person_id": P1, "full_name": "张三", "gender": "1"},
        ],
    )
    # P2 is stated only by a driving licence: observed, but not a member of the population.
    licence = pool("gaj.driving_licence", [{"person_id": P2, "full_name": "李四"}])
    values = attribute_values(
        observations_from_pools({"gaj.hukou": hukou, "gaj.driving_licence": licence}, config),
        config,
    )
    members = spark.createDataFrame([(P1,), (P1,), (p3,)], "key string")
    rows = survivorship.base_rows(members, values, config.bases["population"])
    assert rows.columns[0] == "person_id" and "_key_hash" not in rows.columns
    got = {
        r["person_id"]: (
            r["person_name"],
            r["gender"],
            r["person_name_provenance"]["resource"] if r["person_name_provenance"] else None,
        )
        for r in rows.collect()
    }
    assert rows.count() == 2
    assert got == {P1: ("张三", "1", "gaj.hukou"), p3: (None, None, None)}


def test_statement_rows_are_what_the_core_sql_reads_and_explode_to_the_observations(pool, config):
    import pyarrow as pa

    from jobs.integrate.core_sql import STATEMENT_ROWS_SCHEMA
    from jobs.integrate.observations import statement_rows_from_pools

    pools = {
        "gaj.hukou": pool("gaj.hukou", [{"person_id": P1, "full_name": "张三", "phone": None}]),
        "rsj.insured": pool(
            "rsj.insured", [{"person_id": P2, "insurance_type": "pension", "full_name": "李四"}]
        ),
    }

    rows = statement_rows_from_pools(pools, config).toArrow()

    # The same columns and types, nullable or not, whatever a list calls its items; Spark hands
    # times over in its session's zone.
    def shape(schema: pa.Schema) -> list[tuple[str, str]]:
        return [
            (
                f.name,
                "timestamp[us]"
                if pa.types.is_timestamp(f.type)
                else str(f.type).replace(" not null", "").replace("list<element: ", "list<item: "),
            )
            for f in schema
        ]

    assert shape(rows.schema) == shape(STATEMENT_ROWS_SCHEMA)
    exploded = {
        (r["key"], s["element"], s["value"])
        for r in rows.to_pylist()
        for s in r["statements"]
        if s["value"] is not None
    }
    observed = observations_from_pools(pools, config).collect()
    assert exploded == {(r["key"], r["element"], r["value"]) for r in observed}
    assert (P1, "person_name", "张三") in exploded


def test_observations_as_statement_rows_survive_in_the_core_sql_as_in_spark(spark, pool, config):
    from jobs.integrate.core_sql import core_on_statements, statement_queries
    from jobs.integrate.observations import statement_rows_of

    pools = {
        "gaj.hukou": pool(
            "gaj.hukou", [{"person_id": P1, "full_name": "张三", "phone": "13800000002"}]
        ),
        "rsj.insured": pool(
            "rsj.insured",
            [
                {"person_id": P1, "insurance_type": "pension", "phone": "13800000001"},
                {"person_id": P2, "insurance_type": "pension", "full_name": "李四"},
            ],
            batch=INCR,
        ),
        "jyj.student": pool("jyj.student", [{"person_id": P1, "full_name": "张山"}]),
    }
    observed = observations_from_pools(pools, config)

    tables = core_on_statements(
        statement_rows_of(observed).toArrow(),
        statement_queries(config),
        spark.conf.get("spark.sql.session.timeZone"),
    )

    sql_values = tables["attribute_values"].to_pylist()
    assert survival(sql_values) == survival(
        r.asDict() for r in attribute_values(observed, config).collect()
    )
    assert {v["survived_by"] for v in sql_values} >= {"authority", "recency", "agreement"}

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from bench import bench_service
from jobs.standardize import arrow as standard


def test_synthetic_population_has_unique_valid_citizen_ids():
    persons = bench_service.population(5_000)

    ids = persons.column("person_id").combine_chunks()
    assert len(pc.unique(ids)) == 5_000
    assert standard.normalized_citizen_id(ids).null_count == 0
    assert persons.column("gender").to_pylist()[:50] == [
        "1" if int(i[16]) % 2 else "2" for i in ids.to_pylist()[:50]
    ]


def test_curated_share_holds_only_granted_fields_masked_and_tokenised(lake_settings):
    persons = bench_service.population(100)

    share = bench_service.curated(persons, lake_settings)

    assert sorted(share.column_names) == sorted(bench_service.GRANTED)
    first, shared = persons.to_pylist()[0], share.to_pylist()[0]
    assert len(shared["person_id"]) == 64 and shared["person_id"] != first["person_id"]
    assert shared["person_name"] == first["person_name"][0] + "*" * (len(first["person_name"]) - 1)
    assert shared["birth_date"] == first["birth_date"].replace(month=1, day=1)


@pytest.mark.slow
def test_a_short_run_serves_every_call_and_audits_each_once(lake_settings, tmp_path):
    rows = bench_service.measure(
        lake_settings, 2_000, clients=3, seconds=2.0, scratch=tmp_path, workers=2
    )

    totals = [row for row in rows if row["kind"] == "all"]
    assert [row["scenario"] for row in totals] == list(bench_service.SCENARIOS)
    for total in totals:
        assert total["requests"] > 0 and total["errors"] == 0
        assert total["audit_read"] + total["audit_verify"] == total["served"]
        assert total["audit_equal"]
    assert rows[-1]["chain_ok"]

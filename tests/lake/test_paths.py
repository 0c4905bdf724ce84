from __future__ import annotations

import pytest

from jobs.lake.paths import table_uri
from jobs.settings import Settings


@pytest.fixture
def settings(tmp_path):
    return Settings(lake_root=str(tmp_path / "lake"), landing_root=str(tmp_path / "landing"))


def test_lays_out_every_layer_under_the_lake_root(settings, tmp_path):
    lake = tmp_path / "lake"
    assert {
        "bronze": table_uri(settings, "bronze", "gaj", "hukou"),
        "pool": table_uri(settings, "pool", "gaj", "hukou"),
        "quarantine": table_uri(settings, "quarantine", "gaj", "hukou"),
        "base": table_uri(settings, "base", "population"),
        "governance": table_uri(settings, "governance", "audit_log"),
        "share": table_uri(settings, "share", "wjw", "population_masked"),
        "open": table_uri(settings, "open", "enterprise_counts"),
    } == {
        "bronze": str(lake / "bronze" / "gaj" / "hukou"),
        "pool": str(lake / "pool" / "gaj" / "hukou"),
        "quarantine": str(lake / "quarantine" / "gaj" / "hukou"),
        "base": str(lake / "base" / "population"),
        "governance": str(lake / "governance" / "audit_log"),
        "share": str(lake / "share" / "wjw" / "population_masked"),
        "open": str(lake / "open" / "enterprise_counts"),
    }


def test_landing_lives_under_the_landing_root_at_any_depth(settings, tmp_path):
    assert table_uri(settings, "landing") == str(tmp_path / "landing")
    assert table_uri(settings, "landing", "gaj", "hukou", "b1") == str(
        tmp_path / "landing" / "gaj" / "hukou" / "b1"
    )


def test_joins_object_store_roots_with_slashes():
    settings = Settings(lake_root="s3://bureau-lake/prod/")
    assert table_uri(settings, "pool", "gaj", "hukou") == "s3://bureau-lake/prod/pool/gaj/hukou"


@pytest.mark.parametrize(
    ("layer", "parts"),
    [
        ("pool", ("gaj",)),
        ("base", ("population", "extra")),
        ("silver", ("gaj", "hukou")),
        ("pool", ("gaj", "../etc")),
        ("pool", ("gaj", "_hidden")),
        ("pool", ("gaj", "")),
        ("share", ("wjw", ".x")),
    ],
)
def test_refuses_wrong_layer_or_parts(settings, layer, parts):
    with pytest.raises(ValueError):
        table_uri(settings, layer, *parts)

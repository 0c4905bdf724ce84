from __future__ import annotations

import json

import pandas as pd
import pytest

from jobs.integrate.geometry import (
    check_geometries,
    gauss_kruger_epsg,
    overlapping_pairs,
    with_geometry_checks,
)

BOUNDARY = json.dumps(
    {
        "type": "Polygon",
        "coordinates": [
            [[114.0, 35.5], [114.4, 35.5], [114.4, 35.8], [114.0, 35.8], [114.0, 35.5]]
        ],
    }
)


def square(x: float, y: float, side: float = 0.0005) -> str:
    ring = [[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def bow_tie(x: float, y: float, side: float = 0.0005) -> str:
    ring = [[x, y], [x + side, y + side], [x + side, y], [x, y + side], [x, y]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def test_gauss_kruger_zone_by_longitude():
    assert gauss_kruger_epsg(114.2) == 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E
    assert gauss_kruger_epsg(115.6) == 4548
    assert gauss_kruger_epsg(75.0) == 4534
    assert gauss_kruger_epsg(135.0) == 4554


def test_checks_validity_location_and_area_in_metres():
    batch = pd.DataFrame(
        {
            "parcel_code": ["ok", "bowtie", "outside", "garbage", "point", None],
            "geometry": [
                square(114.2, 35.6),
                bow_tie(114.2, 35.61),
                square(114.6, 35.6),
                "{not json",
                json.dumps({"type": "Point", "coordinates": [114.2, 35.6]}),
                None,
            ],
        }
    )
    (out,) = list(check_geometries(iter([batch]), BOUNDARY))
    rows = out.set_index(out["parcel_code"].fillna("null"))
    assert rows.loc["ok", "is_valid_geometry"]
    assert rows.loc["ok", "is_inside_jurisdiction"]
    assert rows.loc["ok", "projected_crs"] == "EPSG:4547"
    # 0.0005° ≈ 45.2 m east-west at 35.6°N and ≈ 55.5 m north-south
    assert rows.loc["ok", "computed_area_m2"] == pytest.approx(45.25 * 55.48, rel=0.01)
    assert not rows.loc["bowtie", "is_valid_geometry"]
    assert rows.loc["bowtie", "geometry_problem"].startswith("invalid:Self-intersection")
    assert rows.loc["outside", "is_valid_geometry"]
    assert not rows.loc["outside", "is_inside_jurisdiction"]
    assert rows.loc["garbage", "geometry_problem"] == "unparseable"
    assert rows.loc["point", "geometry_problem"] == "not_polygon"
    assert rows.loc["null", "geometry_problem"] == "unparseable"


@pytest.mark.spark
def test_overlapping_parcels_are_paired_once_touching_ones_are_not(spark):
    parcels = spark.createDataFrame(
        [
            ("A", square(114.2, 35.6)),
            ("B", square(114.2003, 35.6)),  # overlaps A by 0.0002° × 0.0005°
            ("C", square(114.2008, 35.6)),  # shares B's east edge only
            ("D", bow_tie(114.3, 35.6)),  # invalid: not compared
        ],
        "parcel_code string, geometry string",
    )
    checked = with_geometry_checks(parcels, BOUNDARY)
    pairs = [tuple(r[:2]) for r in overlapping_pairs(checked, tolerance_m2=0.5).collect()]
    assert pairs == [("A", "B")]

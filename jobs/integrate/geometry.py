"""Parcel geometry: parse, validate, locate, measure and compare boundaries.

Spark has no geometry type and no Column expression can parse GeoJSON, test a polygon for
self-intersection or project coordinates, so those steps run on Arrow batches with shapely 2
(vectorised GEOS) and pyproj inside ``mapInPandas``: each Spark task handles its own batches,
nothing is collected to the driver. What Spark can express stays in Columns: the grid that pairs
neighbouring parcels for the overlap test is a Column expression and a join.

Coordinates are CGCS2000 geographic (EPSG:4490, longitude/latitude as GeoJSON writes them).
Areas are computed in the CGCS2000 3-degree Gauss-Krüger zone of the parcel's longitude
(EPSG:4534 = central meridian 75°E … EPSG:4554 = 135°E), where a square metre is a square metre.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

#: EPSG code of CGCS2000 / 3-degree Gauss-Kruger CM 75E; zone n (CM = 3n°E) is 4534 + n - 25.
_GK3_FIRST_EPSG = 4534
_GK3_FIRST_CM = 75
_GK3_LAST_CM = 135
GEOGRAPHIC_CRS = "EPSG:4490"

#: Problems a geometry can have (``geometry_problem``); shapely's own reason follows a colon.
UNPARSEABLE = "unparseable"
NOT_POLYGON = "not_polygon"
EMPTY = "empty"
INVALID = "invalid"

GEOMETRY_CHECK_SCHEMA = T.StructType(
    [
        T.StructField("parcel_code", T.StringType()),
        T.StructField("is_valid_geometry", T.BooleanType()),
        T.StructField("geometry_problem", T.StringType()),
        T.StructField("is_inside_jurisdiction", T.BooleanType()),
        T.StructField("computed_area_m2", T.DoubleType()),
        T.StructField("projected_crs", T.StringType()),
        T.StructField("centroid_longitude", T.DoubleType()),
        T.StructField("centroid_latitude", T.DoubleType()),
        T.StructField("min_x", T.DoubleType()),
        T.StructField("min_y", T.DoubleType()),
        T.StructField("max_x", T.DoubleType()),
        T.StructField("max_y", T.DoubleType()),
        T.StructField("geometry_wkb", T.BinaryType()),
    ]
)

OVERLAP_SCHEMA = T.StructType(
    [
        T.StructField("parcel_code", T.StringType()),
        T.StructField("other_parcel_code", T.StringType()),
        T.StructField("overlap_area_m2", T.DoubleType()),
    ]
)


def gauss_kruger_epsg(longitude: float) -> int:
    """The CGCS2000 3-degree Gauss-Krüger zone (EPSG code) whose central meridian is nearest."""
    central = round(longitude / 3.0) * 3
    central = min(max(central, _GK3_FIRST_CM), _GK3_LAST_CM)
    return _GK3_FIRST_EPSG + (central - _GK3_FIRST_CM) // 3


def _transformer(epsg: int):
    from pyproj import Transformer

    return _TRANSFORMERS.setdefault(
        epsg, Transformer.from_crs(GEOGRAPHIC_CRS, f"EPSG:{epsg}", always_xy=True)
    )


_TRANSFORMERS: dict[int, object] = {}


def projected_areas(geoms: np.ndarray, longitudes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Areas in square metres in each geometry's Gauss-Krüger zone, and the zones' EPSG codes."""
    import shapely

    areas = np.full(len(geoms), np.nan)
    zones = np.array(
        [gauss_kruger_epsg(x) if np.isfinite(x) else 0 for x in longitudes], dtype=np.int64
    )
    for epsg in np.unique(zones):
        if epsg == 0:
            continue
        mask = zones == epsg
        transformer = _transformer(int(epsg))

        def project(coords: np.ndarray, transformer=transformer) -> np.ndarray:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        areas[mask] = shapely.area(shapely.transform(geoms[mask], project))
    return areas, zones


def check_geometries(
    batches: Iterator[pd.DataFrame], boundary_geojson: str
) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` body: (parcel_code, geometry) → :data:`GEOMETRY_CHECK_SCHEMA` rows."""
    import shapely

    boundary = shapely.from_geojson(boundary_geojson)
    shapely.prepare(boundary)
    for batch in batches:
        texts = batch["geometry"].to_numpy(dtype=object)
        geoms = shapely.from_geojson(np.where(pd.isna(texts), None, texts), on_invalid="ignore")
        parsed = ~shapely.is_missing(geoms)
        types = shapely.get_type_id(geoms)
        polygonal = parsed & np.isin(types, (3, 6))  # Polygon, MultiPolygon
        empty = polygonal & shapely.is_empty(geoms)
        usable = polygonal & ~empty
        valid = usable & shapely.is_valid(geoms)
        broken = usable & ~valid
        reasons = np.full(len(geoms), None, dtype=object)
        reasons[broken] = shapely.is_valid_reason(geoms[broken])
        problem = [
            UNPARSEABLE
            if not p
            else NOT_POLYGON
            if not g
            else EMPTY
            if e
            else (f"{INVALID}:{r}" if b else None)
            for p, g, e, b, r in zip(parsed, polygonal, empty, broken, reasons, strict=True)
        ]
        # An invalid boundary is measured after GEOS repairs it (make_valid): the area is then
        # a best effort, and is_valid_geometry says so.
        measured = np.where(usable, geoms, None)
        measured[broken] = shapely.make_valid(geoms[broken])
        centroids = shapely.centroid(measured)
        cx, cy = shapely.get_x(centroids), shapely.get_y(centroids)
        areas, zones = projected_areas(measured, np.where(usable, cx, np.nan))
        bounds = shapely.bounds(measured)
        inside = np.where(usable, shapely.covered_by(measured, boundary), None)
        yield pd.DataFrame(
            {
                "parcel_code": batch["parcel_code"],
                "is_valid_geometry": valid,
                "geometry_problem": problem,
                "is_inside_jurisdiction": inside,
                "computed_area_m2": np.where(usable, np.round(areas, 2), np.nan),
                "projected_crs": np.where(zones > 0, "EPSG:" + zones.astype(str), None),
                "centroid_longitude": cx,
                "centroid_latitude": cy,
                "min_x": bounds[:, 0],
                "min_y": bounds[:, 1],
                "max_x": bounds[:, 2],
                "max_y": bounds[:, 3],
                "geometry_wkb": shapely.to_wkb(np.where(valid, geoms, None)),
            }
        )


def with_geometry_checks(parcels_df: DataFrame, boundary_geojson: str) -> DataFrame:
    """Adds validity, jurisdiction, projected area, centroid, bbox and WKB to parcels.

    Args:
        parcels_df: one row per parcel with ``parcel_code`` and ``geometry`` (GeoJSON text).
        boundary_geojson: the jurisdiction boundary (CGCS2000).
    """
    checked = parcels_df.select("parcel_code", "geometry").mapInPandas(
        lambda batches: check_geometries(batches, boundary_geojson), GEOMETRY_CHECK_SCHEMA
    )
    return parcels_df.join(checked, "parcel_code", "left")


def _cells(lo: str, hi: str, cell: float):
    return F.sequence(
        F.floor(F.col(lo) / cell).cast("long"), F.floor(F.col(hi) / cell).cast("long")
    )


def candidate_pairs(checked_df: DataFrame, cell_degrees: float) -> DataFrame:
    """Pairs of valid parcels whose bounding boxes intersect, each pair once (a < b).

    Every parcel is filed under the grid cells its bounding box covers; a pair is compared in
    the one cell holding the lower-left corner of the two boxes' intersection, so a pair sharing
    several cells is not repeated. Grain: one row per candidate pair.
    """
    boxes = checked_df.where(F.col("is_valid_geometry")).select(
        "parcel_code", "min_x", "min_y", "max_x", "max_y", "geometry_wkb", "centroid_longitude"
    )
    filed = boxes.select(
        "*",
        F.explode(_cells("min_x", "max_x", cell_degrees)).alias("cell_x"),
    ).select("*", F.explode(_cells("min_y", "max_y", cell_degrees)).alias("cell_y"))
    a, b = filed.alias("a"), filed.alias("b")
    joined = a.join(
        b,
        (F.col("a.cell_x") == F.col("b.cell_x"))
        & (F.col("a.cell_y") == F.col("b.cell_y"))
        & (F.col("a.parcel_code") < F.col("b.parcel_code"))
        & (F.col("a.min_x") <= F.col("b.max_x"))
        & (F.col("b.min_x") <= F.col("a.max_x"))
        & (F.col("a.min_y") <= F.col("b.max_y"))
        & (F.col("b.min_y") <= F.col("a.max_y")),
    )
    corner_x = F.floor(F.greatest("a.min_x", "b.min_x") / cell_degrees)
    corner_y = F.floor(F.greatest("a.min_y", "b.min_y") / cell_degrees)
    return joined.where((F.col("a.cell_x") == corner_x) & (F.col("a.cell_y") == corner_y)).select(
        F.col("a.parcel_code").alias("parcel_code"),
        F.col("b.parcel_code").alias("other_parcel_code"),
        F.col("a.geometry_wkb").alias("wkb"),
        F.col("b.geometry_wkb").alias("other_wkb"),
        F.col("a.centroid_longitude").alias("longitude"),
    )


def measure_overlaps(
    batches: Iterator[pd.DataFrame], tolerance_m2: float
) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` body: candidate pairs → pairs whose shared area exceeds the tolerance."""
    import shapely

    for batch in batches:
        if batch.empty:
            continue
        a = shapely.from_wkb(batch["wkb"].to_numpy(dtype=object))
        b = shapely.from_wkb(batch["other_wkb"].to_numpy(dtype=object))
        shared = shapely.intersection(a, b)
        areas, _ = projected_areas(shared, batch["longitude"].to_numpy(dtype=float))
        keep = np.nan_to_num(areas) > tolerance_m2
        if keep.any():
            yield pd.DataFrame(
                {
                    "parcel_code": batch["parcel_code"][keep],
                    "other_parcel_code": batch["other_parcel_code"][keep],
                    "overlap_area_m2": np.round(areas[keep], 2),
                }
            )


def overlapping_pairs(
    checked_df: DataFrame, tolerance_m2: float, cell_degrees: float = 0.001
) -> DataFrame:
    """Pairs of valid parcels that overlap by more than ``tolerance_m2`` square metres.

    Grain: one row per overlapping pair (``parcel_code`` < ``other_parcel_code``). Shared edges
    and survey rounding stay under the tolerance.
    """
    return candidate_pairs(checked_df, cell_degrees).mapInPandas(
        lambda batches: measure_overlaps(batches, tolerance_m2), OVERLAP_SCHEMA
    )

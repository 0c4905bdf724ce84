from __future__ import annotations

import pytest

from jobs.ingest.evaluate import evaluate_ingestion
from jobs.ingest.pipeline import ingest_resource
from jobs.synth.config import load_config
from jobs.synth.generate import generate

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# One resource per delivery format and key kind: GBK CSV (citizen ID), XLSX, JSON lines, UTF-8
# CSV (USCC) and GeoJSON (parcel code).
RESOURCES = ["gaj.hukou", "gaj.driving_licence", "jyj.student", "scjgj.enterprise", "zrzyj.parcel"]


def test_every_key_and_format_defect_is_quarantined_with_its_reason_and_nothing_else(
    spark, lake_settings
):
    generate(load_config(None, persons=600, seed=11, defect_rate=0.03), lake_settings.landing_root)
    for resource_id in RESOURCES:
        ingest_resource(resource_id, lake_settings, spark=spark)

    report = evaluate_ingestion(lake_settings, RESOURCES)

    rows = report["row_quarantine"]
    assert rows["expected"] > 0
    assert (rows["false_positive"], rows["false_negative"], rows["wrong_reason"]) == (0, 0, 0), (
        rows["examples"]
    )
    assert (rows["precision"], rows["recall"]) == (1.0, 1.0)
    assert rows["normalisable_rows_rejected"] == 0
    assert report["file_quarantine"]["found"] == report["file_quarantine"]["expected"]
    assert report["held_batches"]["found"] == report["held_batches"]["expected"]
    assert report["held_batches"]["unexpected"] == []

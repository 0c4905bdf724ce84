from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest

from jobs.integrate.evaluate import evaluate_issues, merge_report, score


def test_score_counts_hits_misses_and_false_alarms():
    s = score(
        {("conflict", "gender", "a"), ("conflict", "gender", "b")},
        {("conflict", "gender", "a"), ("conflict", "gender", "c")},
    )
    assert (s.expected, s.found, s.matched, s.precision, s.recall) == (2, 2, 1, 0.5, 0.5)
    assert s.missed == (("conflict", "gender", "b"),)
    assert s.false_alarms == (("conflict", "gender", "c"),)


def test_superseded_defect_is_neither_expected_nor_a_false_alarm():
    defects = pd.DataFrame(
        [
            {
                "outcome": "conflict",
                "element": "person_name",
                "rule": None,
                "key": "k1",
                "resource": "rsj.insured",
            },
            {
                "outcome": "anomaly",
                "element": None,
                "rule": "licence_expired",
                "key": "k2",
                "resource": "gaj.driving_licence",
            },
        ]
    )
    issues = [
        {"issue_type": "anomaly", "rule": "licence_expired", "element": "valid_to", "key": "k2"}
    ]
    report = evaluate_issues(issues, defects, superseded={("rsj.insured", "k1")})
    assert report["superseded"] == 1
    assert report["conflict"]["expected"] == 0
    assert report["anomaly"]["precision"] == report["anomaly"]["recall"] == 1.0


def test_two_true_persons_with_one_key_are_a_false_merge():
    report = merge_report(["a", "b"], ["a", "a", "b", "c"])
    assert report["false_merges"] == 1
    assert report["base_rows_matched"] == 2


@pytest.mark.slow
@pytest.mark.spark
def test_synthetic_county_meets_the_precision_and_recall_target(spark, tmp_path):
    """2,000 persons generated, ingested resource by resource, integrated and measured."""
    from jobs.catalog.loader import load_catalog
    from jobs.ingest.pipeline import ingest_resource
    from jobs.integrate.build import build_bases
    from jobs.integrate.config import load_jurisdiction
    from jobs.integrate.evaluate import evaluate_lake
    from jobs.settings import Settings
    from jobs.synth.config import load_config
    from jobs.synth.generate import generate

    landing = tmp_path / "landing"
    generate(load_config(None, persons=2000, seed=7), landing)
    manifest = landing / "_manifest"
    settings = Settings(
        lake_root=str(tmp_path / "lake"), landing_root=str(landing), spark_master="local[2]"
    )
    catalog = load_catalog(Settings().schemas_root)
    for resource_id in catalog.resources:
        ingest_resource(resource_id, settings, spark=spark)
    boundary = json.loads((manifest / "truth" / "jurisdiction.geojson").read_text())
    jurisdiction = dataclasses.replace(
        load_jurisdiction(settings.schemas_root), boundary=boundary["features"][0]["geometry"]
    )
    last_batch = json.loads((manifest / "config.json").read_text())["batches"][-1]
    as_of = dt.datetime.strptime(last_batch[:8], "%Y%m%d").date()
    summary = build_bases(settings, spark, as_of=as_of, jurisdiction=jurisdiction)
    assert summary["skipped"] is False

    report = evaluate_lake(settings, manifest)
    print(json.dumps(report, indent=1, ensure_ascii=False))
    for kind in ("conflict", "anomaly"):
        assert report["issues"][kind]["precision"] >= 0.99, report["issues"][kind]
        assert report["issues"][kind]["recall"] >= 0.99, report["issues"][kind]
    marital = report["issues"]["conflict"]["by_topic"]["marital_status"]
    assert marital["expected"] > 0 and marital["matched"] == marital["expected"], marital
    assert report["population"]["false_merges"] == 0
    assert report["legal_entity"]["false_merges"] == 0

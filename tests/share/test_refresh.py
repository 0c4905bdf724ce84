from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest

from jobs.audit.hook import write_audit
from jobs.lake import tables
from jobs.lake.registry import REIDENTIFICATION
from jobs.share import grants
from jobs.share.keys import KEY_ENV, ShareKey, load_share_key
from jobs.share.masking import hmac_sha256_hex_py
from jobs.share.refresh import refresh_shares
from jobs.share.reident import reidentify
from tests.actors import MZJ_OFFICER, RSJ_APPROVER, STEWARD

pytestmark = pytest.mark.spark

TODAY = dt.date(2025, 3, 3)
SECRET = "k3y-7f1c9e0b-never-in-the-lake"
ORIGINALS = [
    "11010119900307002X",
    "110101198512120017",
    "张三",
    "欧阳娜娜",
    "13812341234",
    "北京市东城区某街1号",
]


def _files_under(*roots):
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                yield Path(folder) / name


def _grant_population(settings, consumer="mzj", **kw):
    return grants.request_share(
        settings,
        consumer=consumer,
        dataset_id="population",
        fields=kw.pop("fields", []),
        purpose="低保核验",
        by=MZJ_OFFICER,
        today=TODAY,
        **kw,
    )


def test_consumer_without_a_grant_gets_nothing(spark, shared_lake):
    _grant_population(shared_lake, consumer="mzj")
    refresh_shares(spark, shared_lake, today=TODAY, key=ShareKey(b"k", "test"))
    assert tables.table_exists(tables.table_uri(shared_lake, "share", "mzj", "population"))
    assert not os.path.exists(os.path.join(shared_lake.lake_root, "share", "jyj"))


def test_share_is_masked_tokenised_and_limited_to_granted_fields(spark, shared_lake):
    key = ShareKey(b"test-key", "test")
    _grant_population(shared_lake, fields=["person_id", "person_name", "phone_number", "gender"])
    summary = refresh_shares(spark, shared_lake, today=TODAY, key=key)
    assert summary["refreshed"] == ["mzj/population"]
    shared = tables.read_table(spark, tables.table_uri(shared_lake, "share", "mzj", "population"))
    assert shared.columns == ["person_id", "person_name", "gender", "phone_number"]
    token = lambda v: hmac_sha256_hex_py(v, key.for_consumer("mzj"))  # noqa: E731
    assert sorted(map(tuple, shared.collect()), key=str) == sorted(
        [
            (token("11010119900307002X"), "张*", "1", "138****1234"),
            (token("110101198512120017"), "欧***", "2", None),
            (token("1101"), None, None, "*****"),
        ],
        key=str,
    )
    reid = reidentify(
        shared_lake,
        "mzj",
        "population",
        [token(v) for v in ("11010119900307002X", "110101198512120017", "1101", "0")],
        actor="steward",
        purpose="test",
    )
    assert reid == {
        token(v): {"person_id": v} for v in ("11010119900307002X", "110101198512120017", "1101")
    }
    assert not REIDENTIFICATION.uri(shared_lake, "mzj", "population").startswith(
        shared_lake.lake_root
    )
    assert oct(os.stat(shared_lake.reid_root).st_mode & 0o777) == "0o700"


def test_no_original_value_in_any_share_file(spark, shared_lake):
    _grant_population(shared_lake)
    grants.request_share(
        shared_lake,
        consumer="mzj",
        dataset_id="rsj.insured",
        fields=["person_id", "full_name", "phone"],
        purpose="核验",
        by=MZJ_OFFICER,
        today=TODAY,
    )
    (pending,) = [g for g in grants.read_grants(shared_lake) if g["state"] == "pending"]
    grants.decide_request(
        shared_lake,
        pending["request_id"],
        True,
        by=RSJ_APPROVER,
        why="依法履职",
        expires_on=dt.date(2025, 12, 31),
        today=TODAY,
    )
    refresh_shares(spark, shared_lake, today=TODAY, key=ShareKey(b"test-key", "test"))
    share_bytes = b"".join(
        p.read_bytes() for p in _files_under(os.path.join(shared_lake.lake_root, "share"))
    )
    assert b"PAR1" in share_bytes  # parquet files were scanned
    found = [v for v in ORIGINALS if v.encode("utf-8") in share_bytes]
    assert found == []


def test_expired_or_revoked_grant_stops_refreshes_and_withdraws_the_table(spark, shared_lake):
    key = ShareKey(b"test-key", "test")
    grant = grants.request_share(
        shared_lake,
        consumer="mzj",
        dataset_id="rsj.insured",
        fields=["person_id", "insurance_status"],
        purpose="核验",
        by=MZJ_OFFICER,
        today=TODAY,
    )
    grants.decide_request(
        shared_lake,
        grant["request_id"],
        True,
        by=RSJ_APPROVER,
        why="依法履职",
        expires_on=dt.date(2025, 3, 31),
        today=TODAY,
    )
    share_uri = tables.table_uri(shared_lake, "share", "mzj", "rsj.insured")
    assert refresh_shares(spark, shared_lake, today=dt.date(2025, 3, 31), key=key)["refreshed"] == [
        "mzj/rsj.insured"
    ]
    after = refresh_shares(spark, shared_lake, today=dt.date(2025, 4, 1), key=key)
    assert (after["refreshed"], after["withdrawn"]) == ([], ["mzj/rsj.insured"])
    assert not tables.table_exists(share_uri)
    assert not os.path.exists(REIDENTIFICATION.uri(shared_lake, "mzj", "rsj.insured"))

    _grant_population(shared_lake)
    (base,) = [g for g in grants.read_grants(shared_lake) if g["dataset"] == "population"]
    refresh_shares(spark, shared_lake, today=TODAY, key=key)
    grants.revoke_grant(shared_lake, base["request_id"], by=STEWARD, why="停用", today=TODAY)
    assert refresh_shares(spark, shared_lake, today=TODAY, key=key)["withdrawn"] == [
        "mzj/population"
    ]


def test_pending_or_not_shared_never_reaches_share(spark, shared_lake):
    grants.request_share(
        shared_lake,
        consumer="mzj",
        dataset_id="rsj.insured",
        fields=["person_id"],
        purpose="核验",
        by=MZJ_OFFICER,
        today=TODAY,
    )
    grants.request_share(
        shared_lake,
        consumer="mzj",
        dataset_id="wjw.death_cert",
        fields=["full_name"],
        purpose="核验",
        by=MZJ_OFFICER,
        today=TODAY,
    )
    summary = refresh_shares(spark, shared_lake, today=TODAY, key=ShareKey(b"k", "test"))
    assert summary["refreshed"] == [] and not os.path.exists(
        os.path.join(shared_lake.lake_root, "share")
    )


def test_secret_never_in_logs_or_lake(spark, shared_lake, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    _grant_population(shared_lake)
    with write_audit(shared_lake, actor="test"):
        key = load_share_key(shared_lake)
        logging.getLogger("test").info("using %s", key)
        refresh_shares(spark, shared_lake, today=TODAY)
    assert "share_refreshed" in {e for e in _audit_actions(shared_lake)}
    secret = SECRET.encode()
    assert secret not in caplog.text.encode()
    files = list(_files_under(shared_lake.lake_root, shared_lake.reid_root))
    assert len(files) > 10
    assert [p for p in files if secret in p.read_bytes()] == []


def _audit_actions(settings):
    from jobs.audit import log

    return [e["action"] for e in log.read_entries(settings)]


def test_the_refresh_writes_a_grants_snapshot_a_decision_failed_to_write(spark, shared_lake):
    from jobs.lake import ledger
    from jobs.lake.files import remove_tree
    from jobs.lake.registry import SHARE_GRANTS

    _grant_population(shared_lake, consumer="mzj")
    remove_tree(SHARE_GRANTS.uri(shared_lake))  # the snapshot write after the store commit failed

    refresh_shares(spark, shared_lake, today=TODAY, key=ShareKey(b"k", "test"))

    lake = sorted(ledger.read_rows(SHARE_GRANTS.uri(shared_lake)), key=lambda g: g["request_id"])
    assert lake == sorted(grants.read_grants(shared_lake), key=lambda g: g["request_id"])

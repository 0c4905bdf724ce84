from __future__ import annotations

import datetime as dt

import pytest

from jobs.share.keys import DEVELOPMENT_KEY, KEY_ENV, ShareKey, ShareKeyError, load_share_key
from jobs.share.masking import (
    hmac_sha256_hex,
    hmac_sha256_hex_py,
    mask_address_prefix,
    mask_citizen_id,
    mask_first_character,
    mask_phone,
    mask_year,
)

pytestmark = pytest.mark.spark


def test_masks_follow_design_section_7(spark):
    from pyspark.sql import functions as F

    df = spark.createDataFrame(
        [
            (
                "张三",
                "11010119900307002X",
                "13812341234",
                "北京市东城区某街1号",
                dt.date(1990, 3, 7),
            ),
            ("欧阳娜娜", "1101", "12345", "短", None),
            (None, None, None, None, None),
        ],
        "name string, pid string, phone string, address string, born date",
    )
    out = df.select(
        mask_first_character(F.col("name")).alias("name"),
        mask_citizen_id(F.col("pid")).alias("pid"),
        mask_phone(F.col("phone")).alias("phone"),
        mask_address_prefix(F.col("address")).alias("address"),
        mask_year(F.col("born")).alias("born"),
    ).collect()
    assert [tuple(r) for r in out] == [
        ("张*", "1101**********002X", "138****1234", "北京市东城区****", dt.date(1990, 1, 1)),
        ("欧***", "****", "*****", "短****", None),
        (None, None, None, None, None),
    ]


def test_hmac_column_equals_rfc_2104_hmac_sha256(spark):
    from pyspark.sql import functions as F

    values = ["11010119900307002X", "张三", ""]
    df = spark.createDataFrame([(v,) for v in [*values, None]], "v string")
    key = b"k" * 100  # longer than a block: hashed first, as RFC 2104 says
    for k in (b"short-key", key):
        tokens = [r[0] for r in df.select(hmac_sha256_hex(F.col("v"), k)).collect()]
        assert tokens == [hmac_sha256_hex_py(v, k) for v in values] + [None]


def test_tokens_differ_under_another_key(spark):
    from pyspark.sql import functions as F

    df = spark.createDataFrame([("11010119900307002X",)], "v string")
    one = df.select(hmac_sha256_hex(F.col("v"), b"key-one")).first()[0]
    two = df.select(hmac_sha256_hex(F.col("v"), b"key-two")).first()[0]
    assert one != two and len(one) == len(two) == 64


def test_key_from_env_wins_and_never_shows_in_repr(monkeypatch, lake_settings, tmp_path):
    monkeypatch.setenv(KEY_ENV, "s3cr3t-from-env")
    key = load_share_key(lake_settings)
    assert key.secret == b"s3cr3t-from-env" and not key.is_development
    assert "s3cr3t" not in repr(key) and "s3cr3t" not in str(key)
    assert key.for_consumer("mzj") != key.for_consumer("rsj")


def test_key_file_and_flagged_development_default(monkeypatch, lake_settings, tmp_path, caplog):
    import dataclasses

    monkeypatch.delenv(KEY_ENV, raising=False)
    key_file = tmp_path / "share.key"
    key_file.write_bytes(b"file-secret\n")
    with_file = dataclasses.replace(lake_settings, share_key_file=str(key_file))
    assert load_share_key(with_file).secret == b"file-secret"
    key_file.write_bytes(b"  \n")
    with pytest.raises(ShareKeyError, match="empty"):
        load_share_key(with_file)
    dev = load_share_key(lake_settings)
    assert dev.is_development and dev.secret == DEVELOPMENT_KEY
    assert "DEVELOPMENT" in caplog.text
    assert isinstance(dev, ShareKey)

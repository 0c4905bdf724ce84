from __future__ import annotations

import datetime as dt

import pytest

from jobs.lake.tables import RetentionError, parse_interval, retention_properties


@pytest.mark.parametrize(
    ("retention", "interval"),
    [
        (1095, "interval 1095 days"),
        (dt.timedelta(days=183), "interval 183 days"),
        (dt.timedelta(hours=36), "interval 36 hours"),
        (0.5, "interval 12 hours"),
    ],
)
def test_retention_becomes_log_and_deleted_file_retention(retention, interval):
    assert retention_properties(retention) == {
        "delta.logRetentionDuration": interval,
        "delta.deletedFileRetentionDuration": interval,
    }


@pytest.mark.parametrize("retention", [0, -3, dt.timedelta(0)])
def test_refuses_a_retention_that_is_not_positive(retention):
    with pytest.raises(RetentionError, match="retention must be positive"):
        retention_properties(retention)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval 1095 days", dt.timedelta(days=1095)),
        ("interval 1 week", dt.timedelta(weeks=1)),
        ("interval 168 hours", dt.timedelta(hours=168)),
        ("30 days", dt.timedelta(days=30)),
    ],
)
def test_reads_delta_intervals(text, expected):
    assert parse_interval(text) == expected


def test_refuses_an_interval_it_cannot_read():
    with pytest.raises(RetentionError, match="cannot read the retention interval"):
        parse_interval("forever")

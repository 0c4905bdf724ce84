from __future__ import annotations

import datetime as dt

import pyarrow as pa

from jobs.integrate.quarantine import identity_batch
from tests.integrate.conftest import pid, uscc

PERSON = pid("1980-05-06", 17)
ENTITY = uscc("MA1234XY")


def _batch(rows: list[tuple[str | None, ...]]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(c, pa.string()) for c in columns],
        names=["code", "raw_key", "raw_name", "raw_birth_date"],
    )


def test_reads_the_identity_of_quarantined_persons_as_the_pool_normalises_it():
    wrong_check = PERSON[:17] + ("1" if PERSON[17] != "1" else "2")
    excel = PERSON[:15] + "000"
    batch = _batch(
        [
            ("bad_check_character", f" {wrong_check.lower()} ", "张 三", "1980/5/6"),
            ("excel_damaged", excel, "李四", "19800506"),
            ("excel_damaged", PERSON[:15] + "123", None, None),  # not Excel's 000
            ("bad_length", "12345", "王五", "长期"),
            (None, None, None, None),
        ]
    )

    out = identity_batch(batch, "citizen_id").to_pylist()

    assert out == [
        {
            "key_kind": "citizen_id",
            "prefix": PERSON[:17],
            "name": "张三",
            "birth_date": dt.date(1980, 5, 6),
        },
        {
            "key_kind": "citizen_id",
            "prefix": PERSON[:15],
            "name": "李四",
            "birth_date": dt.date(1980, 5, 6),
        },
        {"key_kind": "citizen_id", "prefix": None, "name": None, "birth_date": None},
        {"key_kind": "citizen_id", "prefix": None, "name": "王五", "birth_date": None},
        {"key_kind": "citizen_id", "prefix": None, "name": None, "birth_date": None},
    ]


def test_keeps_16_characters_of_a_uscc_whose_organisation_code_check_is_wrong():
    batch = _batch(
        [
            ("bad_organization_code", "９" + ENTITY[1:].lower(), "某某 公司", None),
            ("bad_check_character", ENTITY, None, None),
        ]
    )

    out = identity_batch(batch, "uscc").to_pylist()

    assert [r["prefix"] for r in out] == [ENTITY[:16], ENTITY[:17]]
    assert [r["name"] for r in out] == ["某某公司", None]

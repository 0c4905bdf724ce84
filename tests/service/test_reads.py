from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.audit import log as audit
from jobs.service.errors import (
    BadFilter,
    BadRequest,
    CursorExpired,
    NotGranted,
    ServiceError,
    UnknownDataset,
)
from jobs.service.formats import encode
from jobs.service.ports import ReadRequest
from jobs.service.reads import Consumer, read_page
from jobs.share import grants
from jobs.share.masking import hmac_sha256_hex_py
from tests.actors import STEWARD
from tests.service.lake import SHARE_KEY, TODAY, at_day

pytestmark = pytest.mark.spark

MZJ = Consumer("mzj", "mzj.wang")


def _token(value: str, consumer: str = "mzj") -> str:
    return hmac_sha256_hex_py(value, SHARE_KEY.for_consumer(consumer))


def _read(settings, consumer=MZJ, offset=0, **kw):
    return read_page(settings, consumer, ReadRequest(**kw), offset=offset)


def _entries(settings, action):
    return [e for e in audit.read_entries(settings) if e["action"] == action]


def _refused(settings, error, consumer=MZJ, **kw):
    before = len(_entries(settings, "read_refused"))
    with pytest.raises(error) as raised:
        _read(settings, consumer, **kw)
    refusals = _entries(settings, "read_refused")
    assert len(refusals) == before + 1
    assert json.loads(refusals[-1]["detail"])["error"] == raised.value.error
    return raised.value


def test_reads_only_the_granted_fields_masked_and_tokenised(service_lake):
    page = _read(service_lake, dataset="population")
    assert page.fields == ("person_id", "person_name", "gender", "birth_date", "phone_number")
    assert page.treatments == {
        "person_id": "token",
        "person_name": "mask",
        "gender": "clear",
        "birth_date": "mask",
        "phone_number": "mask",
    }
    assert sorted(page.table.to_pylist(), key=str) == sorted(
        [
            {
                "person_id": _token("11010119900307002X"),
                "person_name": "张*",
                "gender": "1",
                "birth_date": dt.date(1990, 1, 1),
                "phone_number": "138****1234",
            },
            {
                "person_id": _token("110101198512120017"),
                "person_name": "欧***",
                "gender": "2",
                "birth_date": dt.date(1985, 1, 1),
                "phone_number": None,
            },
            {
                "person_id": _token("1101"),
                "person_name": None,
                "gender": None,
                "birth_date": None,
                "phone_number": "*****",
            },
        ],
        key=str,
    )
    assert page.next_cursor is None


def test_reads_no_row_of_a_batch_the_quality_gate_holds(service_lake):
    page = _read(service_lake, dataset="rsj.insured", fields=("full_name",))
    assert sorted(page.table.column("full_name").to_pylist()) == sorted(
        ["张*", "欧***", "李*", "王*", "赵*", "钱*"]
    )


def test_consumer_without_a_grant_is_refused_and_gets_nothing(service_lake):
    refusal = _refused(service_lake, NotGranted, Consumer("gaj", "gaj.sun"), dataset="population")
    assert refusal.status == 403
    assert "gaj holds no grant for population" in refusal.message


def test_not_shared_resource_is_refused(service_lake):
    _refused(service_lake, NotGranted, dataset="wjw.death_cert")


def test_field_outside_the_grant_is_refused(service_lake):
    refusal = _refused(
        service_lake, NotGranted, dataset="population", fields=("gender", "domicile_address")
    )
    assert "['domicile_address']" in refusal.message and refusal.status == 403


def test_filter_on_a_field_outside_the_grant_is_refused(service_lake):
    _refused(service_lake, NotGranted, dataset="population", filters={"domicile_region": "110101"})


def test_revoked_grant_is_refused_on_the_next_call(service_lake):
    jyj = Consumer("jyj", "jyj.app")
    assert _read(service_lake, jyj, dataset="population").table.num_rows == 3
    (held,) = [g for g in grants.read_grants(service_lake) if g["consumer"] == "jyj"]
    grants.revoke_grant(service_lake, held["request_id"], by=STEWARD, why="用途已结束")
    refusal = _refused(service_lake, NotGranted, jyj, dataset="population")
    assert "revoked" in refusal.message


def test_expired_grant_is_refused_from_the_day_after_its_expiry(service_lake):
    swj = Consumer("swj", "swj.app")
    last_day = at_day(service_lake, TODAY + dt.timedelta(days=5))
    assert _read(last_day, swj, dataset="population").fields == ("gender",)
    day_after = at_day(service_lake, TODAY + dt.timedelta(days=6))
    assert "expired" in _refused(day_after, NotGranted, swj, dataset="population").message


@pytest.mark.parametrize(
    "dataset",
    [
        "../pool/wjw/death_cert",
        "population/../../reid",
        "share/mzj/population",
        "populatiоn",  # Cyrillic о
        "ｐopulation",  # full-width p
        "population; DROP TABLE share_grants",
        "rsj.insured' OR '1'='1",
        "population\x00",
        "",
        None,
    ],
)
def test_dataset_name_injection_is_refused(service_lake, dataset):
    refusal = _refused(service_lake, BadRequest, dataset=dataset)
    assert refusal.status == 400 and "not a dataset name" in refusal.message


def test_unknown_dataset_says_which_names_exist(service_lake):
    refusal = _refused(service_lake, UnknownDataset, dataset="populace")
    assert refusal.status == 404 and "population" in refusal.what_to_do


@pytest.mark.parametrize(
    "fields",
    [("person_name; --",), ("../person_id",), ("PERSON_NAME",), ("pеrson_name",), ("gender ",)],
)
def test_field_name_injection_is_refused(service_lake, fields):
    assert (
        "is not a name"
        in _refused(service_lake, BadRequest, dataset="population", fields=fields).message
    )


@pytest.mark.parametrize(
    "filters",
    [
        {"gender OR 1=1": "1"},
        {"birth_date": "1990-01-01' OR '1'='1"},
        {"gender": ["1", "2"]},
        {"gender": None},
        {"gender": "1\r\n2"},
        {"gender": "9" * 300},
        {"person_name": {"$ne": ""}},
    ],
)
def test_filter_injection_is_refused(service_lake, filters):
    assert _refused(service_lake, BadRequest, dataset="population", filters=filters).status == 400


def test_filter_value_is_a_literal_never_sql(service_lake):
    page = _read(service_lake, dataset="population", filters={"gender": "1' OR '1'='1"})
    assert page.table.num_rows == 0


def test_filters_and_id_list_select_rows_as_served(service_lake):
    by_gender = _read(service_lake, dataset="population", filters={"gender": "2"})
    assert by_gender.table.column("person_name").to_pylist() == ["欧***"]
    by_year = _read(service_lake, dataset="population", filters={"birth_date": "1990-01-01"})
    assert by_year.table.column("gender").to_pylist() == ["1"]
    wanted = [_token("11010119900307002X"), _token("nobody"), "11010119900307002X"]
    by_id = _read(service_lake, dataset="population", ids=tuple(wanted), fields=("gender",))
    assert by_id.table.to_pylist() == [{"gender": "1"}]


def test_id_list_longer_than_the_batch_limit_is_refused(service_lake):
    settings = dataclasses.replace(service_lake, service_max_batch=2)
    refusal = _refused(settings, BadFilter, dataset="population", ids=("a", "b", "c"))
    assert "at most 2" in refusal.what_to_do


def test_pages_follow_the_cursor_to_the_end_and_offset_skips(small_pages):
    seen, cursor, pages = [], None, 0
    while True:
        page = _read(
            small_pages, dataset="rsj.insured", fields=("full_name",), limit=2, cursor=cursor
        )
        seen += page.table.column("full_name").to_pylist()
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert (pages, len(seen), len(set(seen))) == (3, 6, 6)
    third = _read(small_pages, dataset="rsj.insured", fields=("full_name",), limit=2, offset=4)
    assert third.table.column("full_name").to_pylist() == seen[4:]
    assert third.next_cursor is None


def test_page_larger_than_the_setting_is_refused(small_pages):
    refusal = _refused(small_pages, BadRequest, dataset="population", limit=3)
    assert "1 to 2 rows" in refusal.message


def test_cursor_of_another_query_or_forged_is_refused(small_pages):
    first = _read(small_pages, dataset="rsj.insured", limit=2)
    _refused(
        small_pages,
        CursorExpired,
        dataset="rsj.insured",
        limit=2,
        filters={"insurance_status": "active"},
        cursor=first.next_cursor,
    )
    _refused(small_pages, CursorExpired, dataset="rsj.insured", limit=2, cursor="not-a-cursor")


def test_every_successful_read_is_exactly_one_audit_entry(service_lake):
    before = {a: len(_entries(service_lake, a)) for a in ("read", "read_refused")}
    pages = [
        _read(service_lake, dataset="population", filters={"gender": "2"}, format="csv"),
        _read(service_lake, dataset="rsj.insured", fields=("insurance_status",)),
    ]
    with pytest.raises(ServiceError):
        _read(service_lake, dataset="population", fields=("domicile_address",))
    reads = _entries(service_lake, "read")
    assert len(reads) == before["read"] + 2
    assert len(_entries(service_lake, "read_refused")) == before["read_refused"] + 1
    by_seq = {e["seq"]: e for e in reads}
    for page in pages:
        entry = by_seq[page.audit_seq]
        detail = json.loads(entry["detail"])
        assert entry["actor"] == "mzj.wang"
        assert detail["rows"] == page.table.num_rows
        assert detail["grant"] == page.grant_id and detail["purpose"] == "低保核验"
        assert detail["fields"] == list(page.fields) and detail["department"] == "mzj"
    assert json.loads(by_seq[pages[0].audit_seq]["detail"])["filter"] == {"gender": "2"}
    problems, _ = audit.verify(service_lake)
    assert problems == []


NEUTRALISED = {
    '\'=HYPERLINK("http://x","点")',
    "'+86 某公司",
    "'@SUM(A1:A9)",
    "'-2+3",
    "'\tcmd",
    "",
}


def test_csv_neutralises_formulas(service_lake):
    page = _read(service_lake, dataset="rsj.insured", fields=("employer_name", "full_name"))
    encoded = encode(page, "csv")
    assert encoded.body.startswith("\ufeff".encode()) and encoded.filename == "rsj.insured.csv"
    rows = list(csv.reader(io.StringIO(encoded.body.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["employer_name", "full_name"]
    assert {r[0] for r in rows[1:]} == NEUTRALISED


def test_xlsx_holds_text_never_formulas(service_lake):
    from openpyxl import load_workbook

    page = _read(service_lake, dataset="rsj.insured", fields=("employer_name",))
    sheet = load_workbook(io.BytesIO(encode(page, "xlsx").body)).active
    values = {r[0] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert values - {None} == NEUTRALISED - {""}  # a row of empty cells is not stored
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_arrow_and_parquet_carry_the_typed_page(service_lake):
    page = _read(service_lake, dataset="population")
    stream = pa.ipc.open_stream(encode(page, "arrow").body).read_all()
    assert stream.equals(page.table)
    assert pq.read_table(io.BytesIO(encode(page, "parquet").body)).equals(page.table)


def test_json_page_has_rows_treatments_and_next_cursor(small_pages):
    page = _read(small_pages, dataset="population", fields=("birth_date", "gender"), limit=2)
    body = json.loads(encode(page, "json").body)
    assert body["fields"] == ["birth_date", "gender"]
    assert body["treatments"] == {"birth_date": "mask", "gender": "clear"}
    assert body["row_count"] == 2 and len(body["rows"]) == 2
    assert body["next_cursor"] == page.next_cursor is not None
    assert all(set(r) == {"birth_date", "gender"} for r in body["rows"])
    with pytest.raises(BadRequest, match="format"):
        encode(page, "html")

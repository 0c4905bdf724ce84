from __future__ import annotations

import dataclasses
import json

import pytest

from jobs.audit import log as audit
from jobs.service.errors import BadRequest, NotGranted
from jobs.service.ports import ReadRequest
from jobs.service.reads import Consumer, read_page
from jobs.service.verify import verify_batch
from jobs.share import grants
from tests.actors import STEWARD

pytestmark = pytest.mark.spark

MZJ = Consumer("mzj", "mzj.app")
RSJ = Consumer("rsj", "rsj.li")
ZHANG = "11010119900307002X"
OUYANG = "110101198512120017"


def _full_width(text):
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def _entries(settings, action):
    return [e for e in audit.read_entries(settings) if e["action"] == action]


def _refused(settings, error, consumer, dataset, items):
    before = len(_entries(settings, "verify_refused"))
    with pytest.raises(error) as raised:
        verify_batch(settings, consumer, dataset, items)
    assert len(_entries(settings, "verify_refused")) == before + 1
    return raised.value


def test_answers_match_no_match_and_not_found_per_claimed_field(service_lake):
    zhang = {"person_name": "张三", "birth_date": "1990年3月7日", "gender": "男"}
    items = [
        {
            "id": "１１０１０１１９９００３０７００２ｘ",
            "claims": {**zhang, "phone_number": "138-1234-1234"},
        },
        {
            "id": "110101 19851212 0017 ",
            "claims": {"person_name": "欧阳 娜娜", "birth_date": "1985-12-13"},
        },
        {"id": "110101850101001", "claims": {"person_name": "李四"}},
        {"id": "1101", "claims": {"person_name": "王五"}},
    ]
    assert verify_batch(service_lake, MZJ, "population", items) == [
        {
            "id": "１１０１０１１９９００３０７００２ｘ",
            "found": True,
            "fields": {
                "person_name": "match",
                "birth_date": "match",
                "gender": "match",
                "phone_number": "match",
            },
        },
        {
            "id": "110101 19851212 0017 ",
            "found": True,
            "fields": {"person_name": "match", "birth_date": "no_match"},
        },
        {"id": "110101850101001", "found": False, "fields": {"person_name": "not_found"}},
        {"id": "1101", "found": False, "fields": {"person_name": "not_found"}, "invalid_id": True},
    ]


def test_claims_that_are_no_value_of_their_field_are_invalid(service_lake):
    items = [{"id": ZHANG, "claims": {"birth_date": "1990-02-30", "gender": "外星人"}}]
    (result,) = verify_batch(service_lake, MZJ, "population", items)
    assert result["fields"] == {"birth_date": "invalid_claim", "gender": "invalid_claim"}


def test_a_field_without_stored_value_is_not_found(service_lake):
    items = [{"id": OUYANG, "claims": {"phone_number": "13812341234"}}]
    (result,) = verify_batch(service_lake, MZJ, "population", items)
    assert result == {"id": OUYANG, "found": True, "fields": {"phone_number": "not_found"}}


def test_never_returns_a_stored_value(service_lake):
    items = [
        {"id": ZHANG, "claims": {"person_name": "李四", "birth_date": "2001-01-01"}},
        {"id": OUYANG, "claims": {"person_name": "欧阳", "phone_number": "13900000000"}},
        {"id": "91110000100000000A", "claims": {"person_name": "x"}},
    ]
    text = json.dumps(verify_batch(service_lake, MZJ, "population", items), ensure_ascii=False)
    for stored in ("张三", "欧阳娜娜", "1990-03-07", "1985-12-12", "13812341234"):
        assert stored not in text
    detail = _entries(service_lake, "verify")[-1]["detail"]
    for stored in ("张三", "欧阳娜娜", "1990", "李四", ZHANG):
        assert stored not in detail


def test_legal_entity_is_verified_by_uscc_and_status_name(service_lake):
    items = [
        {
            "id": _full_width("91110000100000000a"),
            "claims": {"entity_name": "某某科技有限公司", "entity_status": "存续"},
        },
        {
            "id": "91110000200000000B",
            "claims": {"entity_status": "active", "established_on": "2010-05-01"},
        },
    ]
    assert [r["fields"] for r in verify_batch(service_lake, MZJ, "legal_entity", items)] == [
        {"entity_name": "match", "entity_status": "match"},
        {"entity_status": "no_match", "established_on": "not_found"},
    ]


def test_verify_only_grant_answers_but_reads_nothing(service_lake):
    items = [{"id": ZHANG, "claims": {"person_name": "张三"}}]
    assert verify_batch(service_lake, RSJ, "population", items)[0]["fields"] == {
        "person_name": "match"
    }
    with pytest.raises(NotGranted, match="allows verify only"):
        read_page(service_lake, RSJ, ReadRequest("population", fields=("person_name",)))


def test_claim_outside_the_grant_is_refused(service_lake):
    items = [{"id": ZHANG, "claims": {"gender": "1"}}]
    refusal = _refused(service_lake, NotGranted, RSJ, "population", items)
    assert "['gender']" in refusal.message


def test_consumer_without_a_grant_is_refused(service_lake):
    items = [{"id": ZHANG, "claims": {"person_name": "张三"}}]
    _refused(service_lake, NotGranted, Consumer("gaj", "gaj.app"), "population", items)


def test_revoked_grant_is_refused_on_the_next_batch(service_lake):
    wjw = Consumer("wjw", "wjw.app")
    items = [{"id": ZHANG, "claims": {"person_name": "张三"}}]
    assert verify_batch(service_lake, wjw, "population", items)[0]["found"]
    (held,) = [g for g in grants.read_grants(service_lake) if g["consumer"] == "wjw"]
    grants.revoke_grant(service_lake, held["request_id"], by=STEWARD, why="用途已结束")
    assert "revoked" in _refused(service_lake, NotGranted, wjw, "population", items).message


@pytest.mark.parametrize(
    "dataset", ["rsj.insured", "../base/population", "population'--", "pоpulation"]
)
def test_only_the_population_and_legal_entity_bases_answer(service_lake, dataset):
    items = [{"id": ZHANG, "claims": {"person_name": "张三"}}]
    assert _refused(service_lake, BadRequest, MZJ, dataset, items).status == 400


@pytest.mark.parametrize(
    "items",
    [
        [],
        [{"id": ZHANG, "claims": {}}],
        [{"id": ZHANG}],
        [{"id": ZHANG, "claims": {"person_name; --": "x"}}],
        [{"id": ZHANG, "claims": {"person_id": ZHANG}}],
        [{"id": ZHANG, "claims": {"person_name": ["张三"]}}],
        [{"id": ZHANG, "claims": {"person_name": "张\r三"}}],
        [{"id": None, "claims": {"person_name": "张三"}}],
        [
            {"id": ZHANG, "claims": {"person_name": "张三"}},
            {"id": "110101 19900307002x", "claims": {"person_name": "李四"}},
        ],
    ],
)
def test_malformed_batches_are_refused(service_lake, items):
    assert _refused(service_lake, BadRequest, MZJ, "population", items).status == 400


def test_batch_larger_than_the_setting_is_refused(service_lake):
    settings = dataclasses.replace(service_lake, service_max_batch=1)
    items = [{"id": ZHANG, "claims": {"gender": "1"}}, {"id": OUYANG, "claims": {"gender": "2"}}]
    assert "1 to 1 items" in _refused(settings, BadRequest, MZJ, "population", items).what_to_do


def test_every_batch_is_one_audit_entry(service_lake):
    before = len(_entries(service_lake, "verify"))
    items = [
        {"id": ZHANG, "claims": {"person_name": "张三"}},
        {"id": OUYANG, "claims": {"person_name": "某人"}},
    ]
    verify_batch(service_lake, MZJ, "population", items)
    entries = _entries(service_lake, "verify")
    assert len(entries) == before + 1
    detail = json.loads(entries[-1]["detail"])
    assert detail["answers"] == {"match": 1, "no_match": 1}
    assert (detail["ids"]["count"], detail["found"], detail["purpose"]) == (2, 2, "低保核验")
    assert entries[-1]["actor"] == "mzj.app"
    assert audit.verify(service_lake)[0] == []

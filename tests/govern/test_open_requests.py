from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from jobs.audit.log import read_entries
from jobs.govern import open_requests
from jobs.govern.applicants import Applicant
from jobs.govern.open_requests import NotFound, OpenRequestError
from jobs.lake import ledger
from jobs.lake.registry import OPEN_DATASET
from jobs.settings import pinned_clock
from jobs.store import requests
from jobs.store.db import reading
from jobs.store.roles import APPROVER, BUREAU, Actor, Forbidden
from tests.actors import RSJ_APPROVER, STEWARD
from tests.threads import in_threads

#: Tuesday before National Day 2025 (1–8 October off, Saturday 11 October a make-up working day).
RECEIVED = dt.datetime(2025, 9, 30, 2, 0, tzinfo=dt.UTC)
SCJGJ_APPROVER = Actor("scjgj.sun", "scjgj", frozenset({APPROVER}))
LICENCES = "scjgj.business_licence"
CITIZEN = Applicant(
    kind="person",
    name="柳如是",
    id_type="resident_id",
    id_number="11010119900307002x",
    phone="13912345678",
    email="liu.rushi@example.cn",
)
FROM = "addr:test-client"


@pytest.fixture
def store(store_settings):
    return store_settings.with_clock(pinned_clock(RECEIVED))


@pytest.fixture
def published(store):
    rows = pa.table({"uscc": ["91110000100000000A"], "entity_name": ["某公司"]})
    ledger.append_arrow(OPEN_DATASET.uri(store, LICENCES), rows, write_id="test")
    return store


def _apply(settings, dataset=LICENCES, applicant=CITIZEN, source=FROM, by=None):
    return open_requests.submit(
        settings, dataset, applicant, "研究市场主体分布", source=source, by=by
    )


def test_an_application_is_due_five_working_days_after_receipt_across_national_day(store):
    fushun = dataclasses.replace(store, policy_profile="fushun")

    receipt = _apply(fushun)

    assert (receipt["state"], receipt["due_on"]) == ("pending", dt.date(2025, 10, 14))
    with reading(store) as session:
        stored = requests.find(session, "open_request", receipt["receipt"])
    assert stored["departments"] == ["scjgj"]
    assert stored["facts"]["answer_workdays_source"] == "004 §22"
    assert "secret" not in stored["facts"] and receipt["secret"] not in str(stored)


def test_an_application_due_in_a_year_without_an_official_calendar_is_provisional(store):
    new_year_s_eve = store.with_clock(pinned_clock(dt.datetime(2026, 12, 30, 2, tzinfo=dt.UTC)))

    receipt = _apply(new_year_s_eve)

    assert receipt["due_on"].year == 2027 and receipt["due_provisional"]


def test_a_profile_silent_on_the_deadline_takes_the_file_s_default(store):
    receipt = _apply(store)  # hebi: 000 §18 sets no answer deadline

    assert receipt["due_on"] == dt.date(2025, 10, 14)
    assert "answer_workdays_when_unset" in open_requests.load_policy(store).source


@pytest.mark.parametrize(
    ("dataset", "why"),
    [
        ("gaj.hukou", "not open"),
        ("scjgj.enterprise", "without application"),
        ("gaj.nothing", "no dataset"),
    ],
)
def test_only_an_on_request_dataset_can_be_requested(store, dataset, why):
    with pytest.raises(OpenRequestError, match=why):
        _apply(store, dataset)

    with reading(store) as session:
        assert requests.count(session, "open_request") == 0


def test_the_public_list_shows_not_open_data_with_its_basis_and_what_may_be_asked(store):
    listed = {d["dataset"]: d for d in open_requests.listed_datasets(store)}

    assert "scjgj.enterprise" not in listed
    assert listed[LICENCES]["is_requestable"] and listed[LICENCES]["open_type_name"] == "有条件开放"
    assert not listed["gaj.hukou"]["is_requestable"]
    assert listed["gaj.hukou"]["open_type_name"] == "不予开放"
    assert "个人隐私" in listed["gaj.hukou"]["legal_basis"]
    assert listed[LICENCES]["condition"] and listed[LICENCES]["legal_basis"] == "004 §22"


@pytest.mark.parametrize("id_number", ["1101011990030700", "110101199003070021"])
def test_a_malformed_id_number_is_refused_without_repeating_it(store, id_number):
    wrong = dataclasses.replace(CITIZEN, id_number=id_number)  # too short; a wrong check digit

    with pytest.raises(OpenRequestError) as refused:
        _apply(store, applicant=wrong)

    assert "居民身份证" in str(refused.value) and id_number not in str(refused.value)


def test_an_organisation_applies_with_its_uscc(store):
    company = Applicant(
        "organisation", "某某科技有限公司", "uscc", "91110000100000000R", "", "a@b.cn"
    )

    assert _apply(store, applicant=company)["state"] == "pending"
    with pytest.raises(OpenRequestError, match="USCC"):
        _apply(store, applicant=dataclasses.replace(company, id_type="passport"))
    with pytest.raises(OpenRequestError, match="统一社会信用代码"):  # a wrong check character
        _apply(store, applicant=dataclasses.replace(company, id_number="91110000100000000A"))


def test_another_department_cannot_answer_but_the_provider_and_the_bureau_can(store):
    first, second = _apply(store)["receipt"], _apply(store)["receipt"]

    with pytest.raises(Forbidden):
        open_requests.answer(store, first, True, by=RSJ_APPROVER, why="同意")
    granted = open_requests.answer(store, first, True, by=SCJGJ_APPROVER, why="同意开放")
    refused = open_requests.answer(store, second, False, by=STEWARD, why="涉及商业秘密")

    assert (granted["state"], granted["answered_late"]) == ("granted", False)
    assert (refused["state"], refused["reason"]) == ("refused", "涉及商业秘密")
    with pytest.raises(OpenRequestError, match="granted already"):
        open_requests.answer(store, first, False, by=SCJGJ_APPROVER, why="改为不同意")


def test_the_department_lists_its_own_applications_and_the_bureau_all(store):
    receipt = _apply(store)["receipt"]

    assert [r["receipt"] for r in open_requests.to_answer(store, SCJGJ_APPROVER)] == [receipt]
    assert open_requests.to_answer(store, RSJ_APPROVER) == []
    assert open_requests.to_answer(store, STEWARD)[0]["applicant"]["name"] == "柳如是"


def test_those_who_answer_see_the_applicant_s_id_number_masked_and_the_store_keeps_it(store):
    receipt = _apply(store)["receipt"]
    passport = dataclasses.replace(CITIZEN, id_type="passport", id_number="E12345678")
    company = Applicant(
        "organisation", "某某科技有限公司", "uscc", "91110000100000000R", "", "a@b.cn"
    )
    _apply(store, applicant=passport), _apply(store, applicant=company)

    listed = open_requests.to_answer(store, SCJGJ_APPROVER)
    answered = open_requests.answer(store, receipt, True, by=SCJGJ_APPROVER, why="同意开放")

    shown = {r["applicant"]["id_type"]: r["applicant"]["id_number"] for r in listed}
    assert shown == {
        "resident_id": "1101**********002X",  # DESIGN §7, as the shares mask an ID
        "passport": "*****5678",
        "uscc": "91110000100000000R",  # an organisation's public registration
    }
    assert answered["applicant"]["id_number"] == "1101**********002X"
    assert {r["applicant"]["phone"] for r in listed} == {"13912345678", ""}  # to answer at
    with reading(store) as session:
        (held,) = requests.load(session, open_requests.OPEN_REQUEST.type, ids=[receipt])
    assert held["facts"]["applicant"]["id_number"] == "11010119900307002X"


def test_the_status_needs_the_receipt_s_own_secret(store):
    first, second = _apply(store), _apply(store)

    shown = open_requests.status(store, first["receipt"], first["secret"])

    assert (shown["state"], shown["due_on"]) == ("pending", dt.date(2025, 10, 14))
    assert "applicant" not in shown
    with pytest.raises(NotFound):
        open_requests.status(store, first["receipt"], second["secret"])
    with pytest.raises(NotFound):
        open_requests.status(store, "OR20250930FFFFFFFF", first["secret"])


def test_a_download_works_until_it_expires_and_each_one_is_recorded(published):
    store = published
    receipt = _apply(store)["receipt"]
    open_requests.answer(store, receipt, True, by=SCJGJ_APPROVER, why="同意开放")
    last_day = store.with_clock(pinned_clock(RECEIVED + dt.timedelta(days=30, seconds=-1)))
    expired = store.with_clock(pinned_clock(RECEIVED + dt.timedelta(days=30)))

    location = open_requests.start_download(last_day, receipt, is_signed=lambda shown: True)
    with pytest.raises(NotFound):
        open_requests.start_download(expired, receipt, is_signed=lambda shown: True)
    with pytest.raises(NotFound):
        open_requests.start_download(last_day, receipt, is_signed=lambda shown: False)

    assert location == OPEN_DATASET.uri(store, LICENCES)
    with reading(store) as session:
        actions = [e["action"] for e in requests.events(session, receipt)]
    assert actions == ["requested", "granted", "downloaded"]
    downloads = [e for e in read_entries(store) if e["action"] == "open_request_downloaded"]
    assert [e["target"] for e in downloads] == [f"requests/open_request/{receipt}"]


def _signed_after(downloads):
    """A link signed when ``downloads`` downloads had been made (the service signs the count)."""
    return lambda shown: shown["downloads"] == downloads


def test_each_link_works_once_and_a_grant_gives_a_few_downloads_each_recorded(published):
    store = published
    receipt = _apply(store)["receipt"]
    open_requests.answer(store, receipt, True, by=SCJGJ_APPROVER, why="同意开放")

    open_requests.start_download(store, receipt, is_signed=_signed_after(0))
    with pytest.raises(NotFound, match="used already"):
        open_requests.start_download(store, receipt, is_signed=_signed_after(0))  # leaked
    for made in range(1, open_requests.DOWNLOADS_PER_GRANT):  # new links from the status page
        open_requests.start_download(store, receipt, is_signed=_signed_after(made))
    with pytest.raises(NotFound):
        open_requests.start_download(store, receipt, is_signed=lambda shown: True)

    with reading(store) as session:
        actions = [e["action"] for e in requests.events(session, receipt)]
    assert actions.count("downloaded") == open_requests.DOWNLOADS_PER_GRANT
    downloads = [e for e in read_entries(store) if e["action"] == "open_request_downloaded"]
    assert len(downloads) == open_requests.DOWNLOADS_PER_GRANT
    assert open_requests.to_answer(store, SCJGJ_APPROVER)[0]["downloads_left"] == 0


def test_one_link_used_twice_at_the_same_instant_downloads_once(published):
    store = published
    receipt = _apply(store)["receipt"]
    open_requests.answer(store, receipt, True, by=SCJGJ_APPROVER, why="同意开放")

    def download():
        try:
            return open_requests.start_download(store, receipt, is_signed=_signed_after(0))
        except NotFound as refused:
            return refused

    outcomes = in_threads(first=download, second=download)

    assert sorted(isinstance(o, NotFound) for o in outcomes.values()) == [False, True]
    with reading(store) as session:
        actions = [e["action"] for e in requests.events(session, receipt)]
    assert actions.count("downloaded") == 1


def test_a_refused_or_pending_request_has_no_download(published):
    store = published
    pending = _apply(store)["receipt"]
    refused = _apply(store)["receipt"]
    open_requests.answer(store, refused, False, by=SCJGJ_APPROVER, why="涉及商业秘密")

    for receipt in (pending, refused):
        with pytest.raises(NotFound):
            open_requests.start_download(store, receipt, is_signed=lambda shown: True)


def test_the_sixth_application_from_one_address_within_the_hour_is_throttled(store):
    for _ in range(open_requests.MAX_REQUESTS_FROM_SOURCE):
        _apply(store)

    with pytest.raises(open_requests.OpenRequestThrottled) as throttled:
        _apply(store)
    later = store.with_clock(pinned_clock(RECEIVED + open_requests.THROTTLE_WINDOW))

    assert 0 < throttled.value.retry_after_seconds <= 3601
    assert _apply(store, source="addr:another")["state"] == "pending"
    assert _apply(later)["state"] == "pending"


def test_the_bureau_files_on_a_citizen_s_behalf_and_others_may_not(store):
    receipt = _apply(store, by=STEWARD, source="bureau")

    with pytest.raises(Forbidden):
        _apply(store, by=RSJ_APPROVER)
    with reading(store) as session:
        stored = requests.find(session, "open_request", receipt["receipt"])
    assert (stored["requested_by"], stored["requester_department"]) == ("steward", BUREAU)


def test_contact_details_reach_neither_the_audit_log_nor_the_lake(published):
    store = published
    receipt = _apply(store)["receipt"]
    open_requests.answer(store, receipt, True, by=SCJGJ_APPROVER, why="同意开放")
    open_requests.start_download(store, receipt, is_signed=lambda shown: True)

    audit = str(read_entries(store))
    lake = b"".join(p.read_bytes() for p in Path(store.lake_root).rglob("*") if p.is_file())

    assert "open_request_granted" in audit
    for detail in ("柳如是", "11010119900307002X", "13912345678", "liu.rushi", "研究市场主体"):
        assert detail not in audit
        assert detail.encode() not in lake


def test_a_granted_dataset_not_yet_published_is_not_downloaded_nor_recorded(store):
    receipt = _apply(store)["receipt"]
    open_requests.answer(store, receipt, True, by=SCJGJ_APPROVER, why="同意开放")

    with pytest.raises(OpenRequestError, match="not published yet"):
        open_requests.start_download(store, receipt, is_signed=lambda shown: True)

    with reading(store) as session:
        assert [e["action"] for e in requests.events(session, receipt)][-1] == "granted"

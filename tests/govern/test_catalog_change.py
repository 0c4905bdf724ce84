from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from jobs import yamlconf
from jobs.catalog import revisions
from jobs.catalog.loader import load_catalog
from jobs.govern import catalog_change
from jobs.govern.catalog_change import CatalogChangeError
from jobs.govern.inbox import inbox_of
from jobs.settings import pinned_clock
from jobs.store.roles import (
    APPROVER,
    BUREAU,
    BUREAU_STEWARD,
    DATA_OFFICER,
    Actor,
    Forbidden,
)
from tests.catalog.test_revisions import marriage_entry

MZJ_OFFICER = Actor("mzj_officer", "mzj", frozenset({DATA_OFFICER}))
MZJ_APPROVER = Actor("mzj_approver", "mzj", frozenset({APPROVER}))
GAJ_OFFICER = Actor("gaj_officer", "gaj", frozenset({DATA_OFFICER}))
STEWARD = Actor("steward", BUREAU, frozenset({BUREAU_STEWARD}))
#: A Tuesday before National Day: five working days later is after the holiday week.
RECEIVED = dt.datetime(2026, 9, 29, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def settings(store_settings, tmp_path):
    return dataclasses.replace(
        store_settings, catalog_revisions_root=str(tmp_path / "catalog")
    ).with_clock(pinned_clock(RECEIVED))


def later(settings, days: int):
    return settings.with_clock(pinned_clock(RECEIVED + dt.timedelta(days=days)))


def weekly() -> dict:
    entry = marriage_entry()
    entry["update_frequency"] = "weekly"
    return entry


def test_a_department_proposes_a_change_due_for_the_bureaus_review_in_the_profiles_days(
    settings,
):
    change = catalog_change.propose(
        settings, "mzj.marriage", weekly(), by=MZJ_OFFICER, reason="登记改为按周汇总"
    )

    assert (change["state"], change["departments"]) == ("proposed", [BUREAU])
    assert change["due_on"] == "2026-10-12"  # hebi: 5 working days, National Day off
    assert change["changes"] == [{"path": "update_frequency", "before": "daily", "after": "weekly"}]
    assert [i["id"] for i in inbox_of(settings, BUREAU)] == [change["id"]]
    assert inbox_of(settings, "mzj") == []


def test_a_department_cannot_propose_for_another_departments_resource(settings):
    with pytest.raises(Forbidden, match=r"gaj_officer .* may not catalog\.propose for mzj"):
        catalog_change.propose(settings, "mzj.marriage", weekly(), by=GAJ_OFFICER, reason="代改")

    assert catalog_change.list_changes(settings) == []


def test_an_invalid_proposal_is_refused_with_the_loaders_message_and_nothing_is_kept(settings):
    entry = weekly()
    entry["share"]["type"] = "sometimes"
    entry["fields"].append(dict(entry["fields"][0]))

    with pytest.raises(CatalogChangeError) as refused:
        catalog_change.propose(settings, "mzj.marriage", entry, by=MZJ_OFFICER, reason="改")

    assert refused.value.problems == (
        "proposal: share.type: 'sometimes' is not one of unconditional, conditional, not_shared",
        "proposal: fields[registration_number]: duplicate field name 'registration_number'",
    )
    assert catalog_change.list_changes(settings) == []


def test_a_proposal_that_changes_nothing_is_refused(settings):
    with pytest.raises(CatalogChangeError, match="changes nothing"):
        catalog_change.propose(
            settings, "mzj.marriage", marriage_entry(), by=MZJ_OFFICER, reason="无"
        )


@pytest.mark.parametrize("who", [MZJ_OFFICER, MZJ_APPROVER], ids=["officer", "approver"])
def test_only_the_bureau_approves(settings, who):
    change = catalog_change.propose(
        settings, "mzj.marriage", weekly(), by=MZJ_OFFICER, reason="按周"
    )

    with pytest.raises(Forbidden, match=r"may not catalog\.review"):
        catalog_change.decide(settings, change["id"], True, by=who, why="自批")

    assert catalog_change.find_change(settings, change["id"])["state"] == "proposed"
    assert revisions.signature(settings.catalog_revisions_root) == ()


def test_an_approved_change_becomes_the_next_revision_the_catalog_reads(settings):
    first = catalog_change.propose(
        settings, "mzj.marriage", weekly(), by=MZJ_OFFICER, reason="按周"
    )
    catalog_change.decide(later(settings, 1), first["id"], True, by=STEWARD, why="同意")
    monthly = weekly()
    monthly["update_frequency"] = "monthly"
    monthly["security_level"] = 4
    second = catalog_change.propose(
        later(settings, 2), "mzj.marriage", monthly, by=MZJ_OFFICER, reason="职能调整"
    )

    approved = catalog_change.decide(later(settings, 3), second["id"], True, by=STEWARD, why="可")

    assert (approved["state"], approved["revision"], approved["base_revision"]) == (
        "approved",
        2,
        1,
    )
    marriage = load_catalog(settings.schemas_root, settings.catalog_revisions_root).resource(
        "mzj.marriage"
    )
    assert (marriage.revision, marriage.update_frequency, marriage.security_level) == (
        2,
        "monthly",
        4,
    )
    (revision,) = [
        r for r in revisions.read_revisions(settings.catalog_revisions_root)[0] if r.number == 2
    ]
    assert (revision.proposed_by, revision.approved_by, revision.reason, revision.decision) == (
        "mzj_officer",
        "steward",
        "职能调整",
        "可",
    )
    assert [c["path"] for c in revision.changes] == ["update_frequency", "security_level"]
    assert revision.request == second["id"]


def test_a_second_proposal_waits_for_the_decision_on_the_first(settings):
    catalog_change.propose(settings, "mzj.marriage", weekly(), by=MZJ_OFFICER, reason="按周")

    with pytest.raises(CatalogChangeError, match="awaits the bureau's review"):
        catalog_change.propose(settings, "mzj.marriage", weekly(), by=MZJ_OFFICER, reason="再")


def test_a_rejected_change_makes_no_revision_and_cannot_be_approved_after(settings):
    change = catalog_change.propose(
        settings, "mzj.marriage", weekly(), by=MZJ_OFFICER, reason="按周"
    )

    rejected = catalog_change.decide(settings, change["id"], False, by=STEWARD, why="依据不足")

    assert (rejected["state"], rejected["decision"]) == ("rejected", "依据不足")
    with pytest.raises(CatalogChangeError, match="is rejected: only a proposed change"):
        catalog_change.decide(settings, change["id"], True, by=STEWARD, why="改主意")
    assert revisions.signature(settings.catalog_revisions_root) == ()


def test_the_bureaus_reminder_gives_the_department_the_profiles_days_to_ask(settings):
    reminder = catalog_change.remind(
        settings,
        "mzj.marriage",
        by=STEWARD,
        changed_on=dt.date(2026, 9, 28),
        why="婚姻登记条例修订",
    )
    waiting = inbox_of(settings, "mzj")

    change = catalog_change.propose(
        later(settings, 30), "mzj.marriage", weekly(), by=MZJ_OFFICER, reason="按条例修订"
    )

    assert (reminder["state"], reminder["due_on"]) == ("awaiting", "2026-10-16")  # 10 wd
    assert [i["id"] for i in waiting] == [reminder["id"]]
    assert (change["id"], change["state"], change["departments"]) == (
        reminder["id"],
        "proposed",
        [BUREAU],
    )
    assert (change["ask_due_on"], change["asked_late"]) == ("2026-10-16", True)
    events = catalog_change.find_change(settings, change["id"])["events"]
    assert [(e["action"], e["by"]) for e in events] == [
        ("reminded", "steward"),
        ("submitted", "mzj_officer"),
    ]


def test_where_the_profile_sets_one_period_the_review_is_due_when_it_ends(settings):
    zhenhai = dataclasses.replace(settings, policy_profile="zhenhai")

    change = catalog_change.propose(
        zhenhai,
        "mzj.marriage",
        weekly(),
        by=MZJ_OFFICER,
        reason="按周",
        duty_changed_on=dt.date(2026, 9, 28),
    )

    # 002 §13: the application and the update within 5 working days of the change (Saturday
    # 10 October is a make-up working day)
    assert (change["ask_due_on"], change["due_on"], change["asked_late"]) == (
        "2026-10-10",
        "2026-10-10",
        False,
    )


def test_a_revision_file_lost_after_the_approval_is_published_again(settings):
    change = catalog_change.propose(
        settings, "mzj.marriage", weekly(), by=MZJ_OFFICER, reason="按周"
    )
    catalog_change.decide(settings, change["id"], True, by=STEWARD, why="同意")
    written = revisions.revision_files(settings.catalog_revisions_root)
    text = written[0].read_text(encoding="utf-8")
    written[0].unlink()

    catalog_change.publish_revisions(settings)

    assert written[0].read_text(encoding="utf-8") == text
    assert yamlconf.read(written[0])["entry"]["update_frequency"] == "weekly"


def test_two_approvals_at_once_take_the_next_two_revision_numbers(settings, monkeypatch):
    import threading
    import time

    hukou = revisions.plain(yamlconf.read(f"{settings.schemas_root}/resources/gaj/hukou.yaml"))
    hukou["security_level"] = 4
    changes = [
        catalog_change.propose(settings, "mzj.marriage", weekly(), by=MZJ_OFFICER, reason="按周"),
        catalog_change.propose(settings, "gaj.hukou", hukou, by=GAJ_OFFICER, reason="核心数据"),
    ]
    checked = catalog_change._checked

    def slow_check(*args):  # both approvals are under way before either commits
        checked(*args)
        time.sleep(0.3)

    monkeypatch.setattr(catalog_change, "_checked", slow_check)
    start, numbers = threading.Barrier(2), []

    def approve(change_id):
        start.wait()
        numbers.append(
            catalog_change.decide(settings, change_id, True, by=STEWARD, why="同意")["revision"]
        )

    threads = [threading.Thread(target=approve, args=(c["id"],)) for c in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(numbers) == [1, 2]
    files = revisions.signature(settings.catalog_revisions_root)
    assert [f[:4] for f in files] == ["0001", "0002"]
    assert {f[5:-5] for f in files} == {"mzj.marriage", "gaj.hukou"}

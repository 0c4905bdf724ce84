from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time

import pytest
from sqlalchemy import select

from jobs.settings import pinned_clock
from jobs.store import mail, notifications
from jobs.store.db import reading
from jobs.store.models import Notification
from tests.ports import free_port
from tests.smtp import SmtpServer
from tests.store.workflow import add_staff, decide, file

NOW = dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2025, 3, 3)
PASSWORD = "smtp-secret-do-not-log"


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.close()


@pytest.fixture
def staffed(store_settings):
    settings = store_settings.with_clock(pinned_clock(NOW))
    add_staff(settings)
    return settings


def _with_mail(settings, port: int, **more):
    return dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=port, smtp_from="govlake@bureau.example", **more
    )


def _mail_state(settings) -> list[tuple[bool, int]]:
    with reading(settings) as session:
        rows = session.execute(
            select(Notification.mailed_at, Notification.mail_attempts).order_by(Notification.id)
        ).all()
    return [(mailed is not None, attempts) for mailed, attempts in rows]


def test_a_request_event_is_mailed_once_the_store_commits(staffed, smtp):
    settings = _with_mail(staffed, smtp.port)

    file(settings, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")

    assert smtp.recipients == [["zhao@rsj.example"]]  # rsj.sun has no address
    body = smtp.messages[0].get_content()
    assert "d1" in body and "filed" in body
    assert "110101199003070011" not in body and "rsj.insured" not in body  # no subject by mail
    assert smtp.messages[0]["From"] == "govlake@bureau.example"
    assert _mail_state(settings) == [(True, 0), (False, 0)]


def test_smtp_down_keeps_the_notification_and_a_later_delivery_sends_it(staffed, smtp):
    down = _with_mail(staffed, free_port())

    file(down, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")

    with reading(down) as session:
        assert notifications.unread_count(session, "rsj.zhao") == 1
    assert _mail_state(down) == [(False, 1), (False, 0)]

    summary = mail.deliver_pending(_with_mail(staffed, smtp.port))

    assert (summary["mailed"], summary["failed"]) == (1, 0)
    assert smtp.recipients == [["zhao@rsj.example"]]
    assert _mail_state(down) == [(True, 1), (False, 0)]
    assert mail.deliver_pending(_with_mail(staffed, smtp.port))["mailed"] == 0  # sent once


def _until(condition, seconds=20):
    """Waits for the courier thread to have done what ``condition`` checks."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_with_a_courier_a_decision_commits_without_waiting_for_a_slow_smtp_server(
    staffed, monkeypatch
):
    monkeypatch.setattr(mail, "TIMEOUT", 5)  # without the courier, file() waits this long
    greet = threading.Event()
    slow = SmtpServer(greet_when=greet)
    settings = _with_mail(staffed, slow.port)
    try:
        with mail.courier(settings):
            file(settings, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")
            answered_before_the_server = (slow.messages == [], _mail_state(settings))
            greet.set()
            assert _until(lambda: _mail_state(settings)[0] == (True, 0))
    finally:
        greet.set()
        slow.close()

    assert answered_before_the_server == (True, [(False, 0), (False, 0)])
    assert slow.recipients == [["zhao@rsj.example"]]


def test_with_a_courier_smtp_down_is_recorded_and_tried_again_when_it_is_back(staffed):
    port = free_port()
    settings = _with_mail(staffed, port)
    with mail.courier(settings) as running:
        file(settings, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")
        # Down: the failure is recorded, the notification stays unmailed. The courier may try
        # twice (its start-up drain can meet the commit, whose wake then drains again).
        assert _until(lambda: _mail_state(settings)[0][1] >= 1)
        mailed, attempts = _mail_state(settings)[0]
        assert not mailed and attempts in (1, 2)
        back = SmtpServer(port=port)
        try:
            running.wake(settings)  # the next commit's, or RETRY_EVERY_SECONDS later
            assert _until(lambda: _mail_state(settings)[0][0])
        finally:
            back.close()

    assert _mail_state(settings)[0][1] in (1, 2)  # the delivery that worked counts no failure
    assert back.recipients == [["zhao@rsj.example"]]
    assert mail._couriers == {}  # the block's end stopped it: commands deliver at once again


def test_one_digest_per_account_and_only_to_those_concerned(staffed, smtp):
    settings = _with_mail(staffed, smtp.port)
    quiet = dataclasses.replace(settings, smtp_host="")
    file(quiet, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")
    file(quiet, "d2", opened_on=MONDAY, acting=("rsj", "gaj"), by="mzj.li")
    decide(quiet, "d1", "answered", by="rsj.sun", on=MONDAY)

    mail.deliver_pending(settings)

    by_address = {r[0]: m for r, m in zip(smtp.recipients, smtp.messages, strict=True)}
    assert sorted(by_address) == ["he@gaj.example", "li@mzj.example", "zhao@rsj.example"]
    assert "3 条" in by_address["zhao@rsj.example"]["Subject"]
    assert "d2" not in by_address["li@mzj.example"].get_content()


def test_the_smtp_password_is_sent_only_over_tls_and_never_logged(
    staffed, smtp, monkeypatch, caplog
):
    monkeypatch.setenv(mail.PASSWORD_ENV, PASSWORD)
    settings = _with_mail(staffed, smtp.port, smtp_user="govlake")

    with caplog.at_level(logging.DEBUG):
        file(settings, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")

    assert smtp.messages == []
    assert "offers no TLS" in caplog.text
    assert PASSWORD not in caplog.text
    with reading(settings) as session:
        errors = session.scalars(select(Notification.mail_error)).all()
    assert all(PASSWORD not in (e or "") for e in errors)


def test_the_password_file_is_read_when_no_variable_is_set(lake_settings, tmp_path, monkeypatch):
    monkeypatch.delenv(mail.PASSWORD_ENV, raising=False)
    secret = tmp_path / "smtp.password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")

    with_file = dataclasses.replace(lake_settings, smtp_password_file=str(secret))
    missing = dataclasses.replace(lake_settings, smtp_password_file=str(tmp_path / "no"))

    assert mail.smtp_password(with_file) == PASSWORD
    with pytest.raises(mail.MailError, match="cannot read the SMTP password file"):
        mail.smtp_password(missing)


def test_without_an_smtp_host_nothing_is_mailed_and_the_inbox_has_it(staffed):
    file(staffed, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")

    assert mail.deliver_pending(staffed)["error"].startswith("mail is off")
    assert _mail_state(staffed) == [(False, 0), (False, 0)]

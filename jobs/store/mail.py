"""Notifications by mail, where an SMTP server is configured (``GOVLAKE_SMTP_HOST``).

The notifications not mailed yet are the outbox. :func:`deliver_pending` drains it: after every
store transaction that added notifications (:func:`deliver_soon`, through
:func:`jobs.store.db.after_commit`) and in the daily deadline check, so a mail that failed is
retried later; the notification itself is in the inbox from the moment its event committed,
whatever happens to the mail. In the service a :class:`Courier` thread drains it
(:func:`courier`, for as long as the app serves): a department's click commits and answers
without waiting for the SMTP server (up to :data:`TIMEOUT` per step when it is slow or down);
commands and tasks, which have no later to wait for, deliver at once. It sends one mail per
account (a digest of what it has not been mailed yet) and:

* claims the rows first, in a short transaction of their own, so two processes do not send the
  same notifications and no store lock is held while the server is slow;
* carries no subject and no reason: a request may be about a person, and mail leaves govlake.
  The mail says which request moved and when it is due; the inbox shows the rest;
* sends the SMTP password (``GOVLAKE_SMTP_PASSWORD`` or the file ``GOVLAKE_SMTP_PASSWORD_FILE``)
  only over TLS (port 465, or STARTTLS when the server offers it), and never logs it;
* never raises: a failure is logged (the error's kind and the server's reply) and recorded on the
  notifications, which are tried again until :data:`MAX_ATTEMPTS` or :data:`MAIL_WITHIN`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from jobs.settings import Settings
from jobs.store.models import Account, Notification, Request, RequestEvent

log = logging.getLogger(__name__)

PASSWORD_ENV = "GOVLAKE_SMTP_PASSWORD"
#: A claimed notification another process has not reported on after this long is free again.
CLAIM_FOR = dt.timedelta(minutes=10)
#: Tries per notification; notifications older than :data:`MAIL_WITHIN` are not mailed any more
#: (they stay in the inbox).
MAX_ATTEMPTS = 20
MAIL_WITHIN = dt.timedelta(days=7)
#: Seconds to wait for the SMTP server.
TIMEOUT = 10
#: Notifications one delivery takes; the rest wait for the next.
BATCH = 1000


class MailError(Exception):
    """Mail cannot be sent as configured (no TLS for the password, an unreadable password file)."""


def smtp_password(settings: Settings) -> str | None:
    """The SMTP password: ``GOVLAKE_SMTP_PASSWORD``, else the ``smtp_password_file``; None
    when neither is set."""
    value = os.environ.get(PASSWORD_ENV, "").strip()
    if value:
        return value
    if not settings.smtp_password_file:
        return None
    path = Path(settings.smtp_password_file)
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise MailError(f"cannot read the SMTP password file {path}: {exc.strerror}") from None


def _claim(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    """The notifications due to be mailed, marked as taken by this delivery."""
    query = (
        select(
            Notification.id,
            Notification.request_id,
            Account.email,
            Account.login,
            Request.type,
            Request.state,
            Request.due_on,
            Request.due_provisional,
            RequestEvent.action,
            RequestEvent.on,
        )
        .join(Account, Account.id == Notification.account_id)
        .join(Request, Request.id == Notification.request_id)
        .join(RequestEvent, RequestEvent.event_id == Notification.event_id)
        .where(
            Notification.mailed_at.is_(None),
            Notification.mail_attempts < MAX_ATTEMPTS,
            Notification.created_at >= now - MAIL_WITHIN,
            or_(
                Notification.mail_claimed_at.is_(None),
                Notification.mail_claimed_at < now - CLAIM_FOR,
            ),
            Account.email.is_not(None),
            Account.email != "",
            Account.disabled.is_(False),
        )
        .order_by(Notification.id)
        .limit(BATCH)
        .with_for_update(of=Notification, skip_locked=True)
    )
    rows = [dict(r) for r in session.execute(query).mappings()]
    if rows:
        session.execute(
            update(Notification)
            .where(Notification.id.in_([r["id"] for r in rows]))
            .values(mail_claimed_at=now)
            .execution_options(synchronize_session=False)
        )
    return rows


def message_for(settings: Settings, email: str, rows: Sequence[dict[str, Any]]) -> EmailMessage:
    """One account's digest: which requests moved, their state and due date (no subject)."""
    message = EmailMessage()
    message["From"] = settings.smtp_from or "govlake@localhost"
    message["To"] = email
    message["Subject"] = f"govlake 待办通知 {len(rows)} 条 (request notifications)"
    lines = ["以下申请有新动态，请登录 govlake 待办 (/inbox) 查看。", ""]
    for r in rows:
        due = f"{r['due_on']}{' (暂定 provisional)' if r['due_provisional'] else ''}"
        lines.append(
            f"{r['on']}  {r['type']} {r['request_id'][:12]}  {r['action']} → {r['state']}  "
            f"期限 due {due if r['due_on'] else '-'}"
        )
    message.set_content("\n".join(lines) + "\n")
    return message


def _connect(settings: Settings, password: str | None) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if settings.smtp_port == 465:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=TIMEOUT, context=context
        )
        secure = True
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT)
        smtp.ehlo()
        secure = smtp.has_extn("starttls")
        if secure:
            smtp.starttls(context=context)
            smtp.ehlo()
    if settings.smtp_user:
        if not secure:
            smtp.close()
            raise MailError(
                f"{settings.smtp_host}:{settings.smtp_port} offers no TLS: the SMTP password is "
                "not sent in the clear (use port 465 or a server with STARTTLS)"
            )
        smtp.login(settings.smtp_user, password or "")
    return smtp


def _shown(exc: BaseException, password: str | None) -> str:
    """An error as it may be logged and stored: its kind and message, the password masked."""
    text = f"{type(exc).__name__}: {exc}"
    if password:
        text = text.replace(password, "***")
    return text[:500]


def _send(
    settings: Settings, by_email: dict[str, list[dict[str, Any]]], password: str | None
) -> tuple[list[int], dict[int, str]]:
    """Sends each account's digest; returns the notifications sent and the failed ones' errors."""
    sent: list[int] = []
    failed: dict[int, str] = {}
    try:
        smtp = _connect(settings, password)
    except (OSError, smtplib.SMTPException, MailError) as exc:
        error = _shown(exc, password)
        return [], {r["id"]: error for rows in by_email.values() for r in rows}
    with smtp:
        for email, rows in by_email.items():
            try:
                smtp.send_message(message_for(settings, email, rows))
            except (OSError, smtplib.SMTPException) as exc:
                failed.update({r["id"]: _shown(exc, password) for r in rows})
            else:
                sent.extend(r["id"] for r in rows)
    return sent, failed


def _record(settings: Settings, sent: list[int], failed: dict[int, str]) -> None:
    from jobs.store.db import transaction

    now = settings.now()
    with transaction(settings) as session:
        if sent:
            session.execute(
                update(Notification)
                .where(Notification.id.in_(sent))
                .values(mailed_at=now, mail_claimed_at=None, mail_error=None)
                .execution_options(synchronize_session=False)
            )
        for error in set(failed.values()):
            ids = [i for i, e in failed.items() if e == error]
            session.execute(
                update(Notification)
                .where(Notification.id.in_(ids))
                .values(
                    mail_attempts=Notification.mail_attempts + 1,
                    mail_claimed_at=None,
                    mail_error=error,
                )
                .execution_options(synchronize_session=False)
            )


def deliver_pending(settings: Settings) -> dict[str, Any]:
    """Mails the notifications not mailed yet (see the module doc); returns what it did:
    ``mailed``/``failed`` notifications, ``accounts`` written to, and ``error`` if any."""
    from jobs.store.db import transaction

    summary: dict[str, Any] = {"mailed": 0, "failed": 0, "accounts": 0, "error": None}
    if not settings.smtp_host:
        summary["error"] = "mail is off (GOVLAKE_SMTP_HOST is not set)"
        return summary
    password = None
    try:
        password = smtp_password(settings)
        with transaction(settings) as session:
            rows = _claim(session, settings.now())
        if not rows:
            return summary
        by_email: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_email.setdefault(row["email"], []).append(row)
        sent, failed = _send(settings, by_email, password)
        _record(settings, sent, failed)
    except Exception as exc:  # mail never undoes or breaks what committed before it
        summary["error"] = _shown(exc, password)
        log.warning("notification mail not sent: %s; kept in the inboxes", summary["error"])
        return summary
    summary.update(mailed=len(sent), failed=len(failed), accounts=len(by_email))
    if failed:
        summary["error"] = next(iter(failed.values()))
        log.warning(
            "mail of %d notification(s) failed (%s); kept in the inboxes, retried later",
            len(failed),
            summary["error"],
        )
    if sent:
        log.info("mailed %d notification(s)", len(sent))
    return summary


# --- the service's courier --------------------------------------------------------------------

#: How often a courier tries the outbox again when no commit wakes it (mail that failed).
RETRY_EVERY_SECONDS = 15 * 60

_couriers: dict[str, Courier] = {}
_couriers_lock = threading.Lock()


class Courier:
    """Drains the outbox on a thread of its own: woken by each commit that added notifications
    (:meth:`wake`), and every :data:`RETRY_EVERY_SECONDS` for what failed."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._woken = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="govlake-mail", daemon=True)

    def start(self) -> None:
        self._woken.set()  # what a stop or a crash left in the outbox goes first
        self._thread.start()

    def wake(self, settings: Settings) -> None:
        """Has the outbox drained soon, with ``settings`` (the caller's clock)."""
        self._settings = settings
        self._woken.set()

    def stop(self) -> None:
        """Stops after the delivery under way, if any; what is left stays in the outbox."""
        self._stopping = True
        self._woken.set()
        self._thread.join(timeout=3 * TIMEOUT)

    def _run(self) -> None:
        while True:
            self._woken.wait(RETRY_EVERY_SECONDS)
            self._woken.clear()
            if self._stopping:
                return
            try:
                deliver_pending(self._settings)
            except Exception:  # the thread outlives any one delivery
                log.exception("mail delivery failed; the outbox is tried again later")


@contextmanager
def courier(settings: Settings) -> Iterator[Courier | None]:
    """A :class:`Courier` for the store of ``settings`` while the block runs (none when mail is
    off): :func:`deliver_soon` in this process hands it the mail instead of sending it."""
    if not settings.smtp_host:
        yield None
        return
    running = Courier(settings)
    with _couriers_lock:
        _couriers[settings.database_url] = running
    running.start()
    try:
        yield running
    finally:
        with _couriers_lock:
            _couriers.pop(settings.database_url, None)
        running.stop()


def deliver_soon(settings: Settings) -> None:
    """What a commit that added notifications runs: wakes this process's courier for the store,
    or, without one (a command, a task), delivers at once."""
    with _couriers_lock:
        running = _couriers.get(settings.database_url) if settings.smtp_host else None
    if running is None:
        deliver_pending(settings)
    else:
        running.wake(settings)

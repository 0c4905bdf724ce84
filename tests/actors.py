"""Signed-in actors for the tests of procedures: the rules check roles, not how one signed in."""

from __future__ import annotations

from pathlib import Path

from jobs.settings import Settings
from jobs.store.accounts import catalog_departments, create_account, sync_departments
from jobs.store.db import transaction
from jobs.store.roles import (
    APPROVER,
    AUDITOR,
    BUREAU,
    BUREAU_STEWARD,
    DATA_OFFICER,
    QUALITY_REVIEWER,
    Actor,
)

MZJ_OFFICER = Actor("mzj.li", "mzj", frozenset({DATA_OFFICER}))
GAJ_OFFICER = Actor("gaj.li", "gaj", frozenset({DATA_OFFICER}))
RSJ_OFFICER = Actor("rsj.li", "rsj", frozenset({DATA_OFFICER}))
RSJ_APPROVER = Actor("rsj.zhao", "rsj", frozenset({APPROVER}))
MZJ_APPROVER = Actor("mzj.wang", "mzj", frozenset({APPROVER}))
WJW_APPROVER = Actor("wjw.chen", "wjw", frozenset({APPROVER}))
STEWARD = Actor("steward", BUREAU, frozenset({BUREAU_STEWARD}))
REVIEWER = Actor("reviewer", BUREAU, frozenset({QUALITY_REVIEWER}))
BUREAU_AUDITOR = Actor("auditor", BUREAU, frozenset({AUDITOR}))

PASSWORD = "correct horse battery"


def create_accounts(settings: Settings, *actors: Actor) -> None:
    """Store accounts for ``actors`` (with :data:`PASSWORD`), as `govlake accounts create` makes
    them, so that commands can sign in as them."""
    with transaction(settings) as session:
        sync_departments(session, catalog_departments(settings.schemas_root))
        for actor in actors:
            create_account(
                session,
                login=actor.login,
                department=actor.department,
                display_name=actor.login,
                roles=actor.roles,
                password=PASSWORD,
                now=settings.now(),
            )


def password_file(folder: Path) -> str:
    """A file holding :data:`PASSWORD`, for ``--password-file``."""
    path = folder / "password.txt"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return str(path)

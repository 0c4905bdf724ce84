"""Demo accounts: three departments and the bureau, so ``govlake serve`` can be tried at once.

``govlake demo`` calls :func:`ensure_demo_accounts` after the share stage. Each run gives every
demo account a fresh random password and returns it for the terminal only: the passwords are
never written to a log, the summary JSON or the lake, and a run in production is refused (demo
accounts have no place next to real data).

The cast follows the browser walk in the README: the civil-affairs bureau (民政局) consumes the
population base and asks for shares; the public-security bureau's (公安局) approver decides
requests for its resources; the health commission (卫生健康委) answers verification; the
bureau's steward and auditor stand for 大数据局.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from jobs.audit import record
from jobs.settings import Settings
from jobs.store import db
from jobs.store.accounts import (
    catalog_departments,
    create_account,
    set_password,
    sync_departments,
)
from jobs.store.models import Account
from jobs.store.roles import APPROVER, AUDITOR, BUREAU, BUREAU_STEWARD, DATA_OFFICER

#: login → (department, display name, roles)
DEMO_CAST: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "mzj.officer": ("mzj", "民政局 数据专员 (demo)", (DATA_OFFICER,)),
    "gaj.approver": ("gaj", "公安局 审批人 (demo)", (APPROVER, DATA_OFFICER)),
    "wjw.officer": ("wjw", "卫生健康委 数据专员 (demo)", (DATA_OFFICER,)),
    "bureau.steward": (BUREAU, "大数据局 管理员 (demo)", (BUREAU_STEWARD,)),
    "bureau.auditor": (BUREAU, "大数据局 审计员 (demo)", (AUDITOR,)),
}


class DemoAccountsRefused(RuntimeError):
    """Demo accounts asked for in production."""


@dataclass(frozen=True)
class DemoLogin:
    login: str
    department: str
    roles: tuple[str, ...]
    password: str  # for the terminal only; never logged or stored in clear


def ensure_demo_accounts(settings: Settings) -> list[DemoLogin]:
    """Creates the demo accounts that are missing and gives every one a new random password."""
    if settings.is_production:
        raise DemoAccountsRefused("demo accounts are never created with GOVLAKE_ENV=production")
    logins = []
    with db.transaction(settings) as session:
        sync_departments(session, catalog_departments(settings.schemas_root))
        for login, (department, name, roles) in DEMO_CAST.items():
            password = secrets.token_urlsafe(12)
            if session.scalar(select(Account.id).where(Account.login == login)) is None:
                create_account(
                    session,
                    login=login,
                    department=department,
                    display_name=name,
                    roles=roles,
                    password=password,
                    now=settings.now(),
                )
            else:
                set_password(session, login, password)
            logins.append(DemoLogin(login, department, roles, password))
    # Like `govlake accounts`: every account change is an entry of the audit log.
    for demo in logins:
        record(
            settings,
            "account_password_set",
            actor="demo",
            target=f"accounts/{demo.login}",
            detail={"department": demo.department, "roles": list(demo.roles), "demo": True},
        )
    return logins

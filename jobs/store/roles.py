"""Roles and who may do what: plain data a reader can check at a glance (DESIGN §9).

An :class:`Actor` is an authenticated account as the rules see it (login, department, roles);
:data:`PERMISSIONS` says, per action, which roles may take it and over which resources: ``any``
resource, or only those of the actor's ``own`` department (the department that provides the
dataset, consumes it, or is assigned the ticket). :func:`can` reads the table; :func:`require`
raises with a message that says who may act instead.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

#: The bureau's own department code: bureau stewards, quality reviewers and auditors belong to it,
#: and it provides the base databases.
BUREAU = "bureau"

BUREAU_STEWARD = "bureau_steward"  # 大数据局管理员: accounts, any grant's withdrawal
DATA_OFFICER = "data_officer"  # 部门数据专员: requests shares, answers tickets for its department
APPROVER = "approver"  # 部门审批人: decides requests for its own department's resources only
QUALITY_REVIEWER = "quality_reviewer"  # 质量审核员: reviews and closes verification tickets
AUDITOR = "auditor"  # 审计员: reads the audit log, nothing else
SYSTEM_CLIENT = "system_client"  # 部门应用: an application with an API token

ROLES: tuple[str, ...] = (
    BUREAU_STEWARD,
    DATA_OFFICER,
    APPROVER,
    QUALITY_REVIEWER,
    AUDITOR,
    SYSTEM_CLIENT,
)
#: Roles only an account of the bureau may hold.
BUREAU_ROLES: frozenset[str] = frozenset({BUREAU_STEWARD})

ANY, OWN = "any", "own"

#: action → role → scope.
PERMISSIONS: dict[str, dict[str, str]] = {
    "share.request": {DATA_OFFICER: OWN, SYSTEM_CLIENT: OWN, BUREAU_STEWARD: ANY},
    "share.decide": {APPROVER: OWN},
    "share.revoke": {APPROVER: OWN, BUREAU_STEWARD: ANY},
    "share.read": {DATA_OFFICER: OWN, SYSTEM_CLIENT: OWN},
    # a refused share request: its consumer asks the bureau to coordinate (协调), and the
    # bureau's steward decides, finally (000 §15–16, 001 §15)
    "share.ask_coordination": {DATA_OFFICER: OWN, SYSTEM_CLIENT: OWN},
    "share.coordinate": {BUREAU_STEWARD: ANY},
    # a request's steps: its consumer's, provider's and reviewer's people, and the bureau
    "share.view": {DATA_OFFICER: OWN, SYSTEM_CLIENT: OWN, APPROVER: OWN, BUREAU_STEWARD: ANY},
    # verification (校核): the assigned department answers and asks for the one extension; the
    # bureau approves it, and files a request for a citizen or legal person
    "ticket.extend": {DATA_OFFICER: OWN},
    "ticket.decide_extension": {BUREAU_STEWARD: ANY},
    "ticket.correct": {DATA_OFFICER: OWN},
    "ticket.dispute": {DATA_OFFICER: OWN},
    "ticket.close": {DATA_OFFICER: OWN, QUALITY_REVIEWER: ANY, BUREAU_STEWARD: ANY},
    "ticket.comment": {DATA_OFFICER: OWN, QUALITY_REVIEWER: ANY, BUREAU_STEWARD: ANY},
    "ticket.file": {DATA_OFFICER: OWN, QUALITY_REVIEWER: ANY, BUREAU_STEWARD: ANY},
    "audit.read": {AUDITOR: ANY},
    "accounts.manage": {BUREAU_STEWARD: ANY},
    "share.reidentify": {BUREAU_STEWARD: ANY},
    "share.export": {DATA_OFFICER: OWN, BUREAU_STEWARD: ANY},  # a granted share as a file
    "share.refresh": {BUREAU_STEWARD: ANY},  # rebuild the share tables now
    "open.publish": {BUREAU_STEWARD: ANY},
    "open.answer": {APPROVER: OWN, BUREAU_STEWARD: ANY},  # 依申请开放: grant or refuse
    "open.request_for": {BUREAU_STEWARD: ANY},  # apply on a citizen's or organisation's behalf
    "quality.release": {QUALITY_REVIEWER: ANY},  # a held batch promotable after 整改
    "audit.purge": {BUREAU_STEWARD: ANY},  # entries past the retention
    "lake.backup": {BUREAU_STEWARD: ANY},  # take, prune and drill backup sets
    "lake.restore": {BUREAU_STEWARD: ANY},
    "lake.destroy": {BUREAU_STEWARD: ANY},  # 销毁
    # error feedback (数据纠错): filed by the receiving department, answered by the provider only
    "feedback.file": {DATA_OFFICER: OWN, SYSTEM_CLIENT: OWN},
    "feedback.answer": {DATA_OFFICER: OWN, QUALITY_REVIEWER: OWN, BUREAU_STEWARD: OWN},
    # data demand (需求清单): filed by a department, answered by the holder or the bureau
    "demand.file": {DATA_OFFICER: OWN},
    "demand.answer": {APPROVER: OWN, BUREAU_STEWARD: ANY},
    "demand.deliver": {DATA_OFFICER: OWN, APPROVER: OWN, BUREAU_STEWARD: ANY},
    "demand.forward": {BUREAU_STEWARD: ANY},  # to the department that holds the data
    "catalog.propose": {DATA_OFFICER: OWN},  # 目录更新: a change of its own resource's entry
    "catalog.review": {BUREAU_STEWARD: ANY},  # ... reviewed by the bureau only
}


class Forbidden(PermissionError):
    """The actor's roles do not allow the action on this resource."""


@dataclass(frozen=True)
class Actor:
    """Who acts: an authenticated account, or govlake itself (:data:`SYSTEM_ACTOR`)."""

    login: str
    department: str
    roles: frozenset[str]

    def __str__(self) -> str:
        return self.login


#: govlake deciding by rule (unconditional shares granted, not-shared ones refused).
SYSTEM_ACTOR = Actor("system", BUREAU, frozenset())


def can(actor: Actor, action: str, departments: str | Collection[str] | None = None) -> bool:
    """Whether ``actor`` may take ``action`` on a resource of ``departments``.

    Args:
        actor: who acts.
        action: a key of :data:`PERMISSIONS` (``share.decide`` …).
        departments: the department(s) the resource belongs to for this action; ``own`` scope
            needs the actor's department among them.
    """
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}; known: {', '.join(PERMISSIONS)}")
    owners = {departments} if isinstance(departments, str) else set(departments or ())
    scopes = [PERMISSIONS[action][r] for r in actor.roles if r in PERMISSIONS[action]]
    return ANY in scopes or (OWN in scopes and actor.department in owners)


def require(actor: Actor, action: str, departments: str | Collection[str] | None = None) -> None:
    """Raises :class:`Forbidden` unless :func:`can`; the message names who may act."""
    if can(actor, action, departments):
        return
    owners = ", ".join(sorted({departments} if isinstance(departments, str) else departments or ()))
    allowed = "; ".join(
        f"{role} ({'any department' if scope == ANY else 'of ' + (owners or 'its department')})"
        for role, scope in PERMISSIONS[action].items()
    )
    held = ", ".join(sorted(actor.roles)) or "no role"
    raise Forbidden(
        f"{actor.login} ({actor.department}: {held}) may not {action}"
        f"{' for ' + owners if owners else ''}; who may: {allowed}"
    )

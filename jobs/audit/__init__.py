"""The audit log (日志记录): append-only, hash-chained, kept per the policy profile.

:mod:`jobs.audit.log` writes and verifies ``governance/audit_log``; :mod:`jobs.audit.hook`
records every lake write through the one hook in :mod:`jobs.lake.tables`;
``jobs.audit.commands`` adds ``govlake audit verify|list|purge``.
"""

from __future__ import annotations

from jobs.audit.hook import install_write_audit, uninstall_write_audit, write_audit
from jobs.audit.log import record, record_many, verify

__all__ = [
    "install_write_audit",
    "record",
    "record_many",
    "uninstall_write_audit",
    "verify",
    "write_audit",
]

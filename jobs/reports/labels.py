"""Bilingual labels (中文 English) for the reports, and department names from the catalog.

Pages are read by quality teams in Chinese and by engineers in English, so every heading and
category carries both. Names of departments and resources come from the catalog (``schemas/``);
a code that the catalog does not know is shown as the code itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.quality.rules import DIMENSIONS

DIMENSION_LABELS: dict[str, str] = {
    "completeness": "完整性 completeness",
    "validity": "规范性 validity",
    "uniqueness": "唯一性 uniqueness",
    "consistency": "一致性 consistency",
    "timeliness": "时效性 timeliness",
    "accuracy": "准确性 accuracy",
}
assert set(DIMENSION_LABELS) == set(DIMENSIONS), "a quality dimension has no report label"

BATCH_STATUS_LABELS: dict[str, str] = {
    "passed": "通过 passed",
    "warned": "警告 warned",
    "held": "拦截 held",
    "promotable": "整改后放行 promotable",
}

TICKET_STATE_LABELS: dict[str, str] = {
    "open": "待核 open",
    "extended": "已延期 extended",
    "overdue": "逾期 overdue",
    "escalated": "已上报 escalated",
    "resolved": "已更正 resolved",
    "confirmed": "已确认 confirmed",
    "corrected": "已答复更正 corrected",
    "disputed": "有异议 disputed",
}

TASK_STATUS_LABELS: dict[str, str] = {
    "open": "整改中 open",
    "overdue": "逾期 overdue",
    "closed": "已整改 closed",
}

UPDATE_FREQUENCY_DAYS: dict[str, int] = {
    # The longest gap between deliveries that still keeps the catalog's update cycle (更新周期).
    "realtime": 1,
    "daily": 1,
    "weekly": 7,
    "monthly": 31,
    "quarterly": 92,
    "yearly": 366,
}

UPDATE_FREQUENCY_LABELS: dict[str, str] = {
    "realtime": "实时 realtime",
    "daily": "每日 daily",
    "weekly": "每周 weekly",
    "monthly": "每月 monthly",
    "quarterly": "每季度 quarterly",
    "yearly": "每年 yearly",
}


@dataclass(frozen=True)
class DepartmentName:
    code: str
    name: str
    name_en: str

    @property
    def label(self) -> str:
        """``公安局 Public Security Bureau (gaj)``, or the bare code when the catalog lacks it."""
        if not self.name and not self.name_en:
            return self.code
        return f"{self.name} {self.name_en} ({self.code})".strip()

    @property
    def short(self) -> str:
        """Chart label: the Chinese name (short enough for an axis), else the code."""
        return self.name or self.code


@dataclass(frozen=True)
class ResourceInfo:
    """What the catalog says about one resource that the reports need."""

    resource_id: str  # dept.resource
    department: str
    title: str
    title_en: str
    update_frequency: str

    @property
    def label(self) -> str:
        return f"{self.title} {self.title_en} ({self.resource_id})".strip()


@dataclass(frozen=True)
class Directory:
    """Departments and resources by code: the catalog's, or whatever a test hands in."""

    departments: Mapping[str, DepartmentName]
    resources: Mapping[str, ResourceInfo]

    def department(self, code: str) -> DepartmentName:
        return self.departments.get(code) or DepartmentName(code, "", "")

    def resource(self, department: str, resource: str) -> ResourceInfo:
        resource_id = f"{department}.{resource}"
        return self.resources.get(resource_id) or ResourceInfo(
            resource_id, department, resource, "", ""
        )

    def resources_of(self, department: str) -> list[ResourceInfo]:
        return sorted(
            (r for r in self.resources.values() if r.department == department),
            key=lambda r: r.resource_id,
        )

    def department_codes(self, *seen: str) -> list[str]:
        """Catalog departments in catalog order, then any other code seen in the data."""
        codes = list(self.departments)
        return codes + sorted({c for c in seen if c and c not in self.departments})


def directory_from_catalog(catalog) -> Directory:
    """Builds the :class:`Directory` from a loaded :class:`jobs.catalog.models.Catalog`."""
    departments = {
        code: DepartmentName(code, d.name, d.name_en) for code, d in catalog.departments.items()
    }
    resources = {
        rid: ResourceInfo(rid, r.department, r.title, r.title_en, r.update_frequency)
        for rid, r in catalog.resources.items()
    }
    return Directory(departments, resources)

"""Policy profiles (政策配置): each jurisdiction's deadlines, retention and vocabularies.

The regulations differ by city and county (DESIGN §1): verification (校核) takes 10 working days
in 鹤壁 and 云阳, a rectification task (整改) 7 in 泰州 and 5 in 镇海, the provide/obtain log is
kept 3 years in 鹤壁 and 6 months in 云阳, and 镇海 calls conditional sharing 受限共享. Code reads
those from a :class:`PolicyProfile` loaded from ``schemas/policy_profiles.yaml``, never from a
literal; each value keeps the article it comes from, or is marked as a documented default where
the regulation is silent.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs import yamlconf
from jobs.settings import Settings
from jobs.yamlconf import BOOL, INT, TEXT, Keys, MapOf, optional

PROFILES_FILE = "policy_profiles.yaml"

#: Working-day numbers every profile states (value null where the regulation is silent).
NUMBER_FIELDS: tuple[str, ...] = (
    "verification_workdays",  # verification (校核): answer within N working days
    "verification_max_extensions",  # how many times the verification may be extended (延长)
    "verification_extension_max_workdays",  # each extension at most N working days
    "conditional_share_answer_workdays",  # conditional share (有条件共享) request answered
    "share_demand_answer_workdays",  # demand (需求申请) for data not yet collected: answer
    "share_demand_deliver_workdays",  # ... then deliver, counted from the answer
    "open_request_answer_workdays",  # open on request (依申请开放): answer
    "rectification_workdays",  # rectification task (整改任务) / problem data handled
    "catalog_update_ask_workdays",  # resource catalog (目录) change: department asks
    "catalog_update_review_workdays",  # ... authority reviews and updates
)
#: Numbers that may not be null: the code always needs them (defaults are documented).
REQUIRED_NUMBERS = frozenset({"verification_workdays", "verification_max_extensions"})
#: Numbers the regulations set but no govlake procedure counts yet: none since every procedure of
#: issue #16 counts its own. A number listed here stays in the profiles because it is the
#: regulation; ``govlake policy show`` marks it, and no code may read it while listed here.
NOT_YET_ENFORCED: tuple[str, ...] = ()

#: Who reviews an application for unconditional data (无条件共享): nobody where it is granted on
#: request (null), the bureau (镇海: the district data centre, 002 §21) or the providing department.
UNCONDITIONAL_SHARE_REVIEWERS: tuple[str, ...] = ("bureau", "provider")

SHARE_TYPE_KEYS = ("unconditional", "conditional", "not_shared")  # 无条件/有条件/不予共享
OPEN_TYPE_KEYS = ("unconditional", "conditional", "not_open")  # 无条件/有条件(依申请)/不予开放

_PROVENANCE = {"source": optional(TEXT), "default": BOOL, "note": optional(TEXT)}
_NUMBER = Keys({"value": optional(INT), **_PROVENANCE}, required={"value"})
_REVIEWER = Keys({"value": optional(TEXT), **_PROVENANCE}, required={"value"})
_RETENTION = Keys({"amount": INT, "unit": TEXT, **_PROVENANCE}, required={"amount", "unit"})


def _vocabulary(keys: tuple[str, ...]) -> Keys:
    return Keys({"names": Keys(dict.fromkeys(keys, TEXT)), **_PROVENANCE}, required={"names"})


_JURISDICTION = Keys(
    {
        "name": TEXT,
        "name_en": TEXT,
        "level": TEXT,
        "province": TEXT,
        "regulation": TEXT,
        "document": optional(TEXT),
        "issued_on": TEXT,
        "status": TEXT,
        "seed": TEXT,
    },
    required={"name"},
)
_PROFILE = Keys(
    {
        "jurisdiction": _JURISDICTION,
        **dict.fromkeys(NUMBER_FIELDS, _NUMBER),
        "unconditional_share_reviewed_by": _REVIEWER,
        "log_retention": _RETENTION,
        "share_types": _vocabulary(SHARE_TYPE_KEYS),
        "open_types": _vocabulary(OPEN_TYPE_KEYS),
    }
)
#: ``schemas/policy_profiles.yaml``: unknown keys and wrong types are errors with their line.
PROFILES_SHAPE = Keys({"version": INT, "profiles": MapOf(_PROFILE)}, required={"profiles"})
_RETENTION_UNITS = ("days", "months", "years")
_PROFILE_NAME = re.compile(r"[a-z][a-z0-9_]*")


class PolicyProfileError(ValueError):
    """The profiles file is missing or invalid, or a profile name is unknown."""


@dataclass(frozen=True)
class Provision:
    """Where a profile value comes from: an article (``"000 §13"``) or a documented default."""

    field: str
    source: str | None
    is_default: bool
    note: str = ""

    def describe(self) -> str:
        """``000 §13``, ``default (regulation silent; …)`` or the note alone."""
        if self.is_default:
            return f"default ({self.note})" if self.note else "default"
        if self.source:
            return self.source + (f" — {self.note}" if self.note else "")
        return self.note or "regulation silent"


def _add_months_rounding_up(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months; a day the target month lacks (31st, 29 Feb) becomes the 1st
    of the following month, so a minimum period is never cut short."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    if day.day <= last:
        return dt.date(year, month, day.day)
    return dt.date(year, month, last) + dt.timedelta(days=1)


@dataclass(frozen=True)
class Retention:
    """A minimum retention period (保存时间不得少于), exactly as the regulation states it."""

    amount: int
    unit: str  # days | months | years
    source: str | None = None
    is_default: bool = False
    note: str = ""

    def keep_until(self, written_on: dt.date) -> dt.date:
        """The first day a record written on ``written_on`` may be deleted."""
        if self.unit == "days":
            return written_on + dt.timedelta(days=self.amount)
        months = self.amount * 12 if self.unit == "years" else self.amount
        return _add_months_rounding_up(written_on, months)

    @property
    def days(self) -> int:
        """The longest this period can be in days (3 years → 1096, 6 months → 184).

        For settings that take a fixed number of days (Delta ``logRetentionDuration``,
        vacuum): using the longest span keeps every record at least the stated period whatever
        day it was written. The four-year leap cycle holds every case that can occur.
        """
        if self.unit == "days":
            return self.amount
        return _longest_span(self.amount, self.unit)

    def __str__(self) -> str:
        unit = self.unit[:-1] if self.amount == 1 else self.unit
        return f"{self.amount} {unit}"


@functools.lru_cache(maxsize=32)
def _longest_span(amount: int, unit: str) -> int:
    period = Retention(amount, unit)
    start = dt.date(2000, 1, 1)
    return max(
        (period.keep_until(day) - day).days
        for day in (start + dt.timedelta(days=i) for i in range(366 + 365 * 3))
    )


@dataclass(frozen=True)
class Vocabulary:
    """Category names for one profile: English key → the Chinese name in the regulation."""

    names: tuple[tuple[str, str], ...]
    source: str | None = None
    is_default: bool = False
    note: str = ""

    def name(self, key: str) -> str:
        """The Chinese name for a key, e.g. ``conditional`` → ``受限共享`` in 镇海."""
        for k, label in self.names:
            if k == key:
                return label
        raise KeyError(f"unknown category {key!r}; known: {', '.join(self.keys)}")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.names)

    def key_of(self, label: str) -> str:
        """The key for a name as departments write it: the full name (``有条件共享``), with
        the suffix 类 (``有条件共享类``), the short form (``有条件``) or the key itself."""
        text = label.strip()
        for key, name in self.names:
            short = name.removesuffix("共享").removesuffix("开放")
            if text in {key, name, name + "类"} or (len(short) >= 2 and text == short):
                return key
        known = ", ".join(name for _, name in self.names)
        raise KeyError(f"unknown category name {label!r}; this profile uses: {known}")


@dataclass(frozen=True)
class Jurisdiction:
    """The city, district or county a profile is for, and the regulation it follows."""

    name: str
    name_en: str = ""
    level: str = ""
    province: str = ""
    regulation: str = ""
    document: str | None = None
    issued_on: str = ""
    status: str = ""
    seed: str = ""


@dataclass(frozen=True)
class PolicyProfile:
    """One jurisdiction's numbers and vocabularies. Working days (工作日) are counted with
    :mod:`jobs.policy.workdays`; ``None`` means the regulation sets no such deadline."""

    name: str
    jurisdiction: Jurisdiction
    verification_workdays: int  # verification (校核)
    verification_max_extensions: int
    verification_extension_max_workdays: int | None
    conditional_share_answer_workdays: int | None  # conditional share (有条件共享)
    share_demand_answer_workdays: int | None  # demand for uncollected data (需求申请)
    share_demand_deliver_workdays: int | None
    open_request_answer_workdays: int | None  # open on request (依申请开放)
    rectification_workdays: int | None  # rectification (整改)
    catalog_update_ask_workdays: int | None  # resource catalog (目录) update
    catalog_update_review_workdays: int | None
    #: Who reviews an application for unconditional data; None: granted on request.
    unconditional_share_reviewed_by: str | None
    log_retention: Retention  # provide/obtain log (日志记录)
    share_types: Vocabulary  # share types (共享属性)
    open_types: Vocabulary  # open types (开放属性)
    provisions: tuple[Provision, ...] = field(default=(), repr=False)

    @property
    def log_retention_days(self) -> int:
        """The log retention as a number of days that always covers the stated period."""
        return self.log_retention.days

    def provision(self, field_name: str) -> Provision:
        """Where the value of ``field_name`` comes from (article or documented default)."""
        for provision in self.provisions:
            if provision.field == field_name:
                return provision
        raise KeyError(f"profile {self.name!r} has no field {field_name!r}")

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output: each value with its source."""
        out: dict[str, Any] = {"name": self.name, "jurisdiction": vars(self.jurisdiction).copy()}
        for name in NUMBER_FIELDS:
            p = self.provision(name)
            out[name] = {
                "value": getattr(self, name),
                "source": p.source,
                "default": p.is_default,
                "enforced": name not in NOT_YET_ENFORCED,
            }
            if p.note:
                out[name]["note"] = p.note
        p = self.provision("unconditional_share_reviewed_by")
        out["unconditional_share_reviewed_by"] = {
            "value": self.unconditional_share_reviewed_by,
            "source": p.source,
            "default": p.is_default,
        }
        r = self.log_retention
        out["log_retention"] = {
            "amount": r.amount,
            "unit": r.unit,
            "days": r.days,
            "source": r.source,
            "default": r.is_default,
        }
        for name in ("share_types", "open_types"):
            v: Vocabulary = getattr(self, name)
            out[name] = {"names": dict(v.names), "source": v.source, "default": v.is_default}
        return out


# -- loading and validation -------------------------------------------------------------------


class _Problems:
    """Collects every validation problem so one run shows them all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, profile: str | None, field_name: str | None, message: str) -> None:
        where = str(self.path)
        if profile is not None:
            where += f": profile {profile!r}"
        if field_name is not None:
            where += f": field {field_name!r}"
        self.items.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            head = "invalid policy profiles" if len(self.items) > 1 else "invalid policy profile"
            raise PolicyProfileError(head + ":\n  " + "\n  ".join(self.items))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _provenance(
    problems: _Problems, profile: str, field_name: str, raw: dict, has_value: bool
) -> Provision:
    source, default, note = raw.get("source"), raw.get("default", False), raw.get("note")
    if not isinstance(default, bool):
        problems.add(profile, field_name, f"'default' must be true or false, got {default!r}")
        default = False
    if source is not None and (not isinstance(source, str) or "§" not in source):
        problems.add(profile, field_name, f"'source' must read like \"000 §13\", got {source!r}")
    if has_value and not default and not source:
        problems.add(
            profile,
            field_name,
            "a value needs its 'source' article, or 'default: true' with a 'note' "
            "saying why where the regulation is silent",
        )
    if default and not note:
        problems.add(profile, field_name, "a default needs a 'note' saying where it comes from")
    return Provision(field_name, _text(source), default, _text(note) or "")


def _parse_number(
    problems: _Problems, profile: str, field_name: str, raw: Any
) -> tuple[int | None, Provision]:
    if not isinstance(raw, dict):
        problems.add(
            profile,
            field_name,
            f'expected a mapping like {{value: 10, source: "000 §13"}}, got {raw!r}',
        )
        return None, Provision(field_name, None, False)
    if "value" not in raw:
        problems.add(
            profile,
            field_name,
            "'value' is missing (write 'value: null' if the regulation is silent)",
        )
    value = raw.get("value")
    if value is None:
        if field_name in REQUIRED_NUMBERS:
            problems.add(
                profile, field_name, "a number is required here (use a documented default)"
            )
    elif not _is_count(value):
        problems.add(
            profile, field_name, f"must be a whole number of working days >= 0, got {value!r}"
        )
        value = None
    provision = _provenance(problems, profile, field_name, raw, value is not None)
    return value, provision


def _parse_reviewer(problems: _Problems, profile: str, raw: Any) -> tuple[str | None, Provision]:
    name = "unconditional_share_reviewed_by"
    value = raw.get("value") if isinstance(raw, dict) else None
    if value is not None and value not in UNCONDITIONAL_SHARE_REVIEWERS:
        problems.add(
            profile,
            name,
            f"must be null or one of {', '.join(UNCONDITIONAL_SHARE_REVIEWERS)}, got {value!r}",
        )
        value = None
    if not isinstance(raw, dict):
        return None, Provision(name, None, False)
    return value, _provenance(problems, profile, name, raw, value is not None)


def _parse_retention(problems: _Problems, profile: str, raw: Any) -> tuple[Retention, Provision]:
    name = "log_retention"
    fallback = Retention(0, "days")
    if not isinstance(raw, dict):
        problems.add(
            profile, name, f"expected a mapping like {{amount: 3, unit: years}}, got {raw!r}"
        )
        return fallback, Provision(name, None, False)
    amount, unit = raw.get("amount"), raw.get("unit")
    ok = True
    if amount is None:
        problems.add(profile, name, "'amount' is missing")
        ok = False
    elif not _is_count(amount):
        problems.add(profile, name, f"'amount' must be a whole number >= 0, got {amount!r}")
        ok = False
    if unit not in _RETENTION_UNITS:
        problems.add(
            profile, name, f"'unit' must be one of {', '.join(_RETENTION_UNITS)}, got {unit!r}"
        )
        ok = False
    provision = _provenance(problems, profile, name, raw, True)
    if not ok:
        return fallback, provision
    return Retention(
        amount, unit, provision.source, provision.is_default, provision.note
    ), provision


def _parse_vocabulary(
    problems: _Problems, profile: str, field_name: str, raw: Any, keys: tuple[str, ...]
) -> tuple[Vocabulary, Provision]:
    if not isinstance(raw, dict):
        problems.add(profile, field_name, f"expected a mapping with 'names', got {raw!r}")
        return Vocabulary(()), Provision(field_name, None, False)
    names = raw.get("names")
    pairs: list[tuple[str, str]] = []
    if not isinstance(names, dict):
        problems.add(profile, field_name, f"'names' must map {', '.join(keys)} to Chinese names")
    else:
        missing = [k for k in keys if k not in names]
        extra = sorted(set(map(str, names)) - set(keys))
        if missing:
            problems.add(profile, field_name, f"'names' is missing {', '.join(missing)}")
        if extra:
            problems.add(
                profile,
                field_name,
                f"'names' has unknown key(s) {', '.join(extra)}; allowed: {', '.join(keys)}",
            )
        for k in keys:
            label = names.get(k)
            if k in names and (not isinstance(label, str) or not label.strip()):
                problems.add(
                    profile, field_name, f"name for {k!r} must be non-empty text, got {label!r}"
                )
            elif k in names:
                pairs.append((k, label.strip()))
        labels = [label for _, label in pairs]
        if len(set(labels)) != len(labels):
            problems.add(profile, field_name, f"names must differ, got {', '.join(labels)}")
    provision = _provenance(problems, profile, field_name, raw, True)
    return Vocabulary(
        tuple(pairs), provision.source, provision.is_default, provision.note
    ), provision


def _parse_jurisdiction(problems: _Problems, profile: str, raw: Any) -> Jurisdiction:
    if not isinstance(raw, dict) or not raw.get("name"):
        problems.add(profile, "jurisdiction", "expected a mapping with at least 'name'")
        return Jurisdiction(name=profile)
    values = {k: _text(raw.get(k)) for k in _JURISDICTION.fields if raw.get(k) is not None}
    return Jurisdiction(**{k: v for k, v in values.items() if v is not None})


def _parse_profile(problems: _Problems, name: str, raw: Any) -> PolicyProfile | None:
    if not _PROFILE_NAME.fullmatch(name):
        problems.add(name, None, "a profile name is lowercase letters, digits and _ (e.g. hebi)")
    if not isinstance(raw, dict):
        problems.add(name, None, f"expected a mapping of fields, got {raw!r}")
        return None
    for missing in [k for k in sorted(_PROFILE.fields) if k not in raw]:
        problems.add(name, missing, "is missing (write 'value: null' if the regulation is silent)")
    numbers: dict[str, int | None] = {}
    provisions: list[Provision] = []
    for field_name in NUMBER_FIELDS:
        if field_name in raw:
            numbers[field_name], provision = _parse_number(
                problems, name, field_name, raw[field_name]
            )
        else:
            numbers[field_name], provision = None, Provision(field_name, None, False)
        provisions.append(provision)
    reviewer, provision = _parse_reviewer(
        problems, name, raw.get("unconditional_share_reviewed_by")
    )
    provisions.append(provision)
    retention, provision = _parse_retention(problems, name, raw.get("log_retention"))
    provisions.append(provision)
    share, provision = _parse_vocabulary(
        problems, name, "share_types", raw.get("share_types"), SHARE_TYPE_KEYS
    )
    provisions.append(provision)
    open_, provision = _parse_vocabulary(
        problems, name, "open_types", raw.get("open_types"), OPEN_TYPE_KEYS
    )
    provisions.append(provision)
    if (numbers.get("verification_max_extensions") or 0) > 0 and numbers.get(
        "verification_extension_max_workdays"
    ) is None:
        problems.add(
            name,
            "verification_extension_max_workdays",
            "an extension is allowed (verification_max_extensions > 0) but its length is null",
        )
    jurisdiction = _parse_jurisdiction(problems, name, raw.get("jurisdiction"))
    return PolicyProfile(
        name=name,
        jurisdiction=jurisdiction,
        verification_workdays=numbers["verification_workdays"] or 0,
        verification_max_extensions=numbers["verification_max_extensions"] or 0,
        verification_extension_max_workdays=numbers["verification_extension_max_workdays"],
        conditional_share_answer_workdays=numbers["conditional_share_answer_workdays"],
        share_demand_answer_workdays=numbers["share_demand_answer_workdays"],
        share_demand_deliver_workdays=numbers["share_demand_deliver_workdays"],
        open_request_answer_workdays=numbers["open_request_answer_workdays"],
        rectification_workdays=numbers["rectification_workdays"],
        catalog_update_ask_workdays=numbers["catalog_update_ask_workdays"],
        catalog_update_review_workdays=numbers["catalog_update_review_workdays"],
        unconditional_share_reviewed_by=reviewer,
        log_retention=retention,
        share_types=share,
        open_types=open_,
        provisions=tuple(provisions),
    )


def parse_profiles(data: Any, path: Path) -> dict[str, PolicyProfile]:
    """Validates the parsed YAML of a profiles file; every problem is reported at once: first
    its shape (unknown keys, wrong types, with their lines), then what the values mean."""
    shape = yamlconf.check(data, PROFILES_SHAPE, path)
    if shape:
        raise PolicyProfileError("invalid policy profiles:\n  " + yamlconf.describe(shape))
    problems = _Problems(path)
    if not data["profiles"]:
        problems.add(None, None, "no profiles defined")
    profiles: dict[str, PolicyProfile] = {}
    for name, raw in data["profiles"].items():
        profile = _parse_profile(problems, str(name), raw)
        if profile is not None:
            profiles[str(name)] = profile
    problems.raise_if_any()
    return profiles


@functools.lru_cache(maxsize=8)
def _load_file(path: str, mtime_ns: int) -> dict[str, PolicyProfile]:
    try:
        data = yamlconf.read(path)
    except yamlconf.ConfigError as exc:
        raise PolicyProfileError(str(exc)) from exc
    return parse_profiles(data, Path(path))


def profiles_path(schemas_root: str | Path) -> Path:
    """The profiles file: ``<schemas_root>/policy_profiles.yaml``."""
    return Path(schemas_root) / PROFILES_FILE


def load_profiles(schemas_root: str | Path) -> dict[str, PolicyProfile]:
    """Every profile in the file, by name, in file order (validated; cached until it changes)."""
    path = profiles_path(schemas_root)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise PolicyProfileError(f"{path}: cannot read policy profiles: {exc}") from exc
    return dict(_load_file(str(path), mtime))


def list_profiles(schemas_root: str | Path) -> list[str]:
    """Names of the profiles in the file, in file order."""
    return list(load_profiles(schemas_root))


def load_profile(name: str, schemas_root: str | Path, *, named_by: str = "") -> PolicyProfile:
    """One jurisdiction's policy profile.

    Args:
        name: profile name (``hebi``, ``taizhou``, …).
        schemas_root: folder holding ``policy_profiles.yaml``.
        named_by: where the name came from (``GOVLAKE_POLICY_PROFILE``), for the message when
            it is unknown: the place a person has to fix.

    Raises:
        PolicyProfileError: the file is missing or invalid (the message names file, profile and
            field), or the name is unknown (the message lists the known ones).
    """
    profiles = load_profiles(schemas_root)
    key = name.strip().lower()
    if key not in profiles:
        source = f" ({named_by})" if named_by else ""
        raise PolicyProfileError(
            f"unknown policy profile {name!r}{source} in {profiles_path(schemas_root)}; "
            f"known profiles: {', '.join(profiles)}"
        )
    return profiles[key]


def configured_profile(settings: Settings) -> PolicyProfile:
    """The profile ``settings`` names (``policy_profile``, from ``GOVLAKE_POLICY_PROFILE``)."""
    return load_profile(
        settings.policy_profile,
        settings.schemas_root,
        named_by=Settings.variable_names()["policy_profile"],
    )

"""Effective settings: environment variables with embedded defaults.

Every path, the Spark master and the policy profile come from here, so that the same code runs
embedded on a laptop (the defaults) and on a cluster with an object store (the environment).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The project folder: the checkout that holds ``jobs/`` and ``schemas/``.
PROJECT_ROOT = Path(__file__).resolve().parents[1]

ENV_PREFIX = "GOVLAKE_"


def _env(name: str, default: str) -> str:
    value = os.environ.get(ENV_PREFIX + name, "").strip()
    return value or default


#: Driver JVM options for short local runs (``Settings.driver_java_options``): a small county's
#: demo, the test suite, the crash drill's processes. The quick JIT compiler only: such a run
#: executes a hundred queries of freshly generated code once or twice each, and the optimising
#: compiler's work on them cost more CPU than it saved (a fifth of the 20k-person build's). The
#: parallel collector instead of G1, whose concurrent marking and write barriers cost more than
#: its short pauses save on a small heap (the 20k county's integration and issue collection:
#: 67.9-70.9 JVM CPU-s with the parallel or serial collector against 75.6 with G1, paired at
#: load 8-14). Large builds run the same code long enough to repay the optimising compiler.
#: The code cache at the size the JVM gives it with both compilers: with the quick one only it
#: gets 48 MB, and a whole county pipeline in one JVM (ingestion, build, shares: thousands of
#: generated classes, every method compiled and kept at the quick level) filled it and died
#: with "Out of space in CodeCache for adapters". The demo took 117.6 / 113.0 s with 48 MB
#: against 103.8 / 107.4 s with 240 MB (two pairs; whether its cache filled is unmeasured).
QUICK_LOCAL_JAVA_OPTIONS = (
    "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m -XX:+UseParallelGC"
)


class SettingsError(ValueError):
    """A ``GOVLAKE_*`` variable holds a value govlake cannot use; the message names it."""


def _env_count(name: str, default: int) -> int:
    """A whole number of at least 1 (partitions, a minimum cell count)."""
    text = _env(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(
            f"{ENV_PREFIX}{name}={text!r}: expected a whole number of at least 1 (default {default})"
        )
    return value


def _env_seconds(name: str, default: int) -> int:
    """A whole number of seconds, 0 or more (0 turns the wait it sets off)."""
    text = _env(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise SettingsError(
            f"{ENV_PREFIX}{name}={text!r}: expected a whole number of seconds, 0 or more "
            f"(default {default})"
        )
    return value


def _env_timezone(name: str, default: str) -> str:
    """An IANA time zone name (``Asia/Shanghai``): the jobs read it with ``zoneinfo``."""
    text = _env(name, default)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise SettingsError(
            f"{ENV_PREFIX}{name}={text!r}: not a known time zone (e.g. {default})"
        ) from exc
    return text


#: The values of ``arrow_memory_pool``.
ARROW_MEMORY_POOLS = ("jemalloc", "mimalloc", "system", "default")


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    text = _env(name, default)
    if text not in choices:
        raise SettingsError(f"{ENV_PREFIX}{name}={text!r}: expected one of {', '.join(choices)}")
    return text


def _env_networks(name: str) -> str:
    """Comma-separated IP addresses or networks (``10.0.0.5, 172.18.0.0/16``), normalised."""
    text = _env(name, "")
    try:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        networks = [ip_network(part, strict=False) for part in parts]
    except ValueError as exc:
        raise SettingsError(
            f"{ENV_PREFIX}{name}={text!r}: expected IP addresses or networks, comma-separated "
            "(e.g. 172.18.0.0/16), the reverse proxies in front of the service"
        ) from exc
    return ",".join(str(n) for n in networks)


def system_clock() -> dt.datetime:
    """The machine's clock as an aware UTC instant: the only place govlake reads it."""
    return dt.datetime.now(dt.UTC)


def pinned_clock(instant: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that always answers ``instant`` (tests, replays of a past day's run).

    Raises:
        ValueError: ``instant`` has no time zone (a naive time has no bureau date).
    """
    if instant.tzinfo is None:
        raise ValueError(f"a pinned clock needs an aware time, got {instant.isoformat()}")
    fixed = instant.astimezone(dt.UTC)
    return lambda: fixed


def _path_or_uri(value: str) -> str:
    """Keeps URIs (s3://, abfss://, file://) as they are; makes local paths absolute."""
    if "://" in value:
        return value
    path = Path(value)
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    return str(path)


def root_inside(root: str, other: str) -> bool:
    """Whether ``root`` is ``other`` or a folder below it (local paths or URIs alike)."""
    inner, outer = root.rstrip("/\\"), other.rstrip("/\\")
    if "://" not in inner:
        inner, outer = os.path.realpath(inner), os.path.realpath(outer)
    return inner == outer or inner.startswith(outer + "/") or inner.startswith(outer + os.sep)


def _outside_lake(lake_root: str, name: str, default: str) -> str:
    value = _path_or_uri(_env(name, default))
    if root_inside(value, lake_root):
        raise SettingsError(
            f"{ENV_PREFIX}{name}={value!r} lies inside the lake root {lake_root!r}: a backup "
            "there is lost with the lake; give another volume or an object store"
        )
    return value


def _optional_path_or_uri(value: str) -> str:
    return _path_or_uri(value) if value else ""


@dataclass(frozen=True)
class Settings:
    """One place for every knob. Build with :meth:`from_env`; pass it down, never re-read env."""

    lake_root: str = field(default_factory=lambda: _path_or_uri("data/lake"))
    landing_root: str = field(default_factory=lambda: _path_or_uri("data/landing"))
    reports_root: str = field(default_factory=lambda: _path_or_uri("data/reports"))
    schemas_root: str = field(default_factory=lambda: str(PROJECT_ROOT / "schemas"))
    spark_master: str = "local[*]"
    driver_memory: str = "4g"
    shuffle_partitions: int = 8
    #: Options of the Spark driver's JVM, given when it starts (in local mode the JVM that runs
    #: every task). Small local runs such as the demo's county use
    #: :data:`QUICK_LOCAL_JAVA_OPTIONS` (why, measured, is written there); large builds run the
    #: same code long enough to repay the JVM's optimising compiler: unset.
    driver_java_options: str = ""
    #: Worker threads the base build runs its independent queries on, beside its own thread
    #: (jobs.integrate.pipeline). One suits a city: with two (when survivorship still ran in
    #: Spark, kind by kind), the kinds' survivorship also ran two at a time and the 1M-person
    #: city took 608.5 s at a 7.9 GB peak against 582.4 s at 7.1 GB with one (its budget
    #: 8 GB); a 100k county's bases took 131.5 / 132.5 s with two against 105.6 / 114.6 s with
    #: one. The demo's 20k county is mostly the driver planning queries on one core, and a
    #: second lane keeps the other core busy: ``govlake demo`` uses 2 (bases 45.8 / 49.9 s
    #: against 56.9 / 51.4 s).
    integrate_lanes: int = 1
    policy_profile: str = "hebi"
    timezone: str = "Asia/Shanghai"
    calendar_overrides: str = ""
    #: Approved catalog revisions (目录更新, jobs.catalog.revisions): one YAML file per revision,
    #: read over `schemas/` by the catalog loader. Configuration the pipeline reads, not git's.
    catalog_revisions_root: str = field(default_factory=lambda: _path_or_uri("data/catalog"))
    #: Re-identification data (token → original, 000 §27): kept apart, outside the lake root.
    reid_root: str = field(default_factory=lambda: _path_or_uri("data/reid"))
    #: Where ``govlake backup`` writes backup sets: another volume or an object store, never
    #: inside the lake root (a backup must survive the lake's disk; jobs.backup.store).
    backup_root: str = field(default_factory=lambda: _path_or_uri("data/backups"))
    #: How many backup sets the scheduled backup keeps (the newest ones; older ones are pruned).
    backup_keep: int = 14
    #: A file holding the tokenisation key for shared tables. The key itself may instead come
    #: from the environment variable GOVLAKE_SHARE_KEY; it is never a setting value, so that
    #: ``govlake config`` and logs cannot print it (jobs.share.keys).
    share_key_file: str = ""
    #: A file holding the key that encrypts re-identification data at rest (the key may instead
    #: come from GOVLAKE_REIDENT_KEY; jobs.share.reident). Never printed, never in the lake.
    reident_key_file: str = ""
    #: A file holding the department service's session secret (CSRF tokens); the secret may
    #: instead come from GOVLAKE_SESSION_SECRET (jobs.service.security). Never printed.
    session_secret_file: str = ""
    #: A file holding the audit log's chain key (the key may instead come from the environment
    #: variable GOVLAKE_AUDIT_KEY; jobs.audit.log). Kept apart from the lake like the share key.
    audit_key_file: str = ""
    #: Where the audit log's newest head is anchored on every append: another volume or bucket
    #: than the lake's. Empty: a folder ``audit_anchor`` next to the lake root.
    audit_anchor_root: str = ""
    #: The workflow store (accounts, tokens, grants; jobs.store): a SQLAlchemy URL such as
    #: ``postgresql+psycopg://govlake@db/govlake``. Empty: a SQLite file ``service/govlake.db``
    #: next to a local lake root (the password, if any, is never printed by ``govlake config``).
    db_url: str = ""
    #: ``development`` or ``production``; production refuses the public development keys.
    env: str = "development"
    #: Open data: aggregate cells counting fewer than this many subjects are suppressed (k).
    open_min_cell_count: int = 5
    #: Open on request (依申请开放): calendar days a granted request's download link lives.
    open_download_days: int = 30
    #: Per-file bounds on a delivered file, checked while it is read (jobs.ingest.readers): a
    #: file over one is quarantined whole, naming the bound, before it can exhaust memory.
    #: Bytes once decompressed (an XLSX's zip members together; a text file's size).
    read_max_bytes: int = 512 * 1024 * 1024
    #: Bytes of one line of a CSV or JSON lines file.
    read_max_line_bytes: int = 1024 * 1024
    #: Data rows (lines of a text file, rows of a sheet, features of a GeoJSON file).
    read_max_rows: int = 5_000_000
    #: Columns (header fields, JSON keys, GeoJSON properties).
    read_max_columns: int = 1_000
    #: Cells: rows × columns.
    read_max_cells: int = 50_000_000
    #: Coordinate positions of all geometries of a GeoJSON file together. Parsed, a position
    #: costs about 120 bytes of Python objects: 5M stay under a GB, and admit a city's cadastre
    #: (the synthetic city of a million persons delivers 1.14M positions for 227k parcels; the
    #: earlier bound of 500,000 quarantined that file whole).
    read_max_vertices: int = 5_000_000
    #: A delivered file of a resource whose catalog entry declares no manifest or marker is read
    #: only once its size and mtime have been unchanged this many seconds by the clock (a file
    #: still being copied waits for the next run); 0 reads files as soon as they are seen.
    landing_quiet_seconds: int = 120
    #: The department service: rows of one page of a governed read (JSON, CSV, XLSX, Arrow).
    service_max_rows: int = 10_000
    #: Keys in one ID-list filter or one 核验 (verification) batch.
    service_max_batch: int = 10_000
    #: The service's cookies: ``auto`` (Secure in production; elsewhere Secure unless reached on
    #: localhost), ``true``, or ``false`` (plain HTTP on a closed test network only: a session
    #: cookie sent in the clear can be taken and replayed).
    cookie_secure: str = "auto"
    #: Reverse proxies in front of the service (addresses or CIDR networks, comma-separated):
    #: only a request from one of them has its X-Forwarded-For (the client's address, which
    #: failed sign-ins are throttled by) and X-Forwarded-Proto believed. Empty: none.
    trusted_proxies: str = ""
    #: Batches of at most this many rows run in the task's own process on Arrow (ingestion
    #: without Spark; quality on Great Expectations' pandas engine); larger ones, and every
    #: batch when the Spark master is a cluster, run on Spark (DESIGN §3). The default takes
    #: every delivery of the synthetic city (a 1M-row hukou export) in process.
    arrow_max_rows: int = 2_000_000
    #: The allocator of Arrow's buffers in a process that ingests (jobs.arrow_memory):
    #: ``jemalloc``, ``mimalloc``, ``system``, or ``default`` (Arrow's own choice, which its
    #: ARROW_DEFAULT_MEMORY_POOL variable sets). mimalloc backs large buffers with transparent
    #: huge pages, whose first touch cost seconds per GB on a virtual machine.
    arrow_memory_pool: str = "jemalloc"
    #: Mail of request notifications (jobs.store.mail): the SMTP server's host (empty: no mail,
    #: notifications stay in the inbox only), its port, and the sender address.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = ""
    #: The SMTP account, if the server wants one; its password comes from GOVLAKE_SMTP_PASSWORD
    #: or the file named here, is sent only over TLS, and is never a setting value or logged.
    smtp_user: str = ""
    smtp_password_file: str = ""
    #: Where "now" comes from. Not a setting a user sets: tests and replays pin it with
    #: :meth:`with_clock`; everything else reads time through :meth:`now` and :meth:`today`.
    clock: Callable[[], dt.datetime] = field(default=system_clock, repr=False, compare=False)

    def now(self) -> dt.datetime:
        """The current instant, aware, in UTC (what timestamps in the lake record)."""
        return self.clock().astimezone(dt.UTC)

    def local_now(self) -> dt.datetime:
        """The current instant on the bureau's wall clock (its time zone, not the machine's)."""
        return self.local_time(self.clock())

    def local_time(self, instant: dt.datetime) -> dt.datetime:
        """An aware instant (a stored UTC time) on the bureau's wall clock: its date is the
        bureau's date of that instant."""
        return instant.astimezone(ZoneInfo(self.timezone))

    def today(self) -> dt.date:
        """Today in the bureau's time zone: the day deadlines count from and reports are dated."""
        return self.local_now().date()

    def runs_on_arrow(self, rows: int) -> bool:
        """Whether a batch of ``rows`` rows runs in-process on Arrow rather than on Spark: at
        most :attr:`arrow_max_rows` rows, and the Spark master is local (a cluster is there
        to take the work)."""
        return rows <= self.arrow_max_rows and self.spark_master.startswith("local")

    @property
    def is_production(self) -> bool:
        """Whether this is a production deployment (``GOVLAKE_ENV=production``)."""
        return self.env == "production"

    @property
    def database_url(self) -> str:
        """The workflow store's URL: ``db_url``, or a SQLite file next to a local lake root.

        Raises:
            SettingsError: the lake is remote (an object store) and no ``GOVLAKE_DB_URL`` is set;
                or production (``GOVLAKE_ENV=production``) on a SQLite store, or on a
                PostgreSQL URL without a password or with a development one.
        """
        if self.is_production:
            _refuse_weak_store(self.db_url)
        if self.db_url:
            return self.db_url
        if "://" in self.lake_root:
            raise SettingsError(
                f"{ENV_PREFIX}DB_URL is not set: a lake at {self.lake_root} has no local folder "
                "for the workflow store's SQLite file (set a postgresql+psycopg:// URL)"
            )
        return f"sqlite:///{Path(self.lake_root).parent / 'service' / 'govlake.db'}"

    def with_clock(self, clock: Callable[[], dt.datetime]) -> Settings:
        """The same settings read at another clock (``pinned_clock(...)`` in tests)."""
        return replace(self, clock=clock)

    @classmethod
    def from_env(cls) -> Settings:
        """Reads ``GOVLAKE_*`` variables; anything unset keeps its embedded default.

        Raises:
            SettingsError: a count or the time zone cannot be used, or the backup root lies
                inside the lake root (the message names the variable and its value).
        """
        lake_root = _path_or_uri(_env("LAKE_ROOT", "data/lake"))
        return cls(
            lake_root=lake_root,
            landing_root=_path_or_uri(_env("LANDING_ROOT", "data/landing")),
            reports_root=_path_or_uri(_env("REPORTS_ROOT", "data/reports")),
            schemas_root=_path_or_uri(_env("SCHEMAS_ROOT", str(PROJECT_ROOT / "schemas"))),
            spark_master=_env("SPARK_MASTER", "local[*]"),
            driver_memory=_env("DRIVER_MEMORY", "4g"),
            shuffle_partitions=_env_count("SHUFFLE_PARTITIONS", 8),
            driver_java_options=_env("DRIVER_JAVA_OPTIONS", cls.driver_java_options),
            integrate_lanes=_env_count("INTEGRATE_LANES", cls.integrate_lanes),
            policy_profile=_env("POLICY_PROFILE", "hebi"),
            timezone=_env_timezone("TIMEZONE", "Asia/Shanghai"),
            calendar_overrides=_env("CALENDAR_OVERRIDES", ""),
            catalog_revisions_root=_path_or_uri(_env("CATALOG_REVISIONS_ROOT", "data/catalog")),
            reid_root=_path_or_uri(_env("REID_ROOT", "data/reid")),
            backup_root=_outside_lake(lake_root, "BACKUP_ROOT", "data/backups"),
            backup_keep=_env_count("BACKUP_KEEP", cls.backup_keep),
            share_key_file=_env("SHARE_KEY_FILE", ""),
            reident_key_file=_env("REIDENT_KEY_FILE", ""),
            session_secret_file=_env("SESSION_SECRET_FILE", ""),
            audit_key_file=_env("AUDIT_KEY_FILE", ""),
            audit_anchor_root=_optional_path_or_uri(_env("AUDIT_ANCHOR_ROOT", "")),
            db_url=_env("DB_URL", ""),
            env=_env_choice("ENV", "development", ("development", "production")),
            open_min_cell_count=_env_count("OPEN_MIN_CELL_COUNT", 5),
            open_download_days=_env_count("OPEN_DOWNLOAD_DAYS", cls.open_download_days),
            read_max_bytes=_env_count("READ_MAX_BYTES", cls.read_max_bytes),
            read_max_line_bytes=_env_count("READ_MAX_LINE_BYTES", cls.read_max_line_bytes),
            read_max_rows=_env_count("READ_MAX_ROWS", cls.read_max_rows),
            read_max_columns=_env_count("READ_MAX_COLUMNS", cls.read_max_columns),
            read_max_cells=_env_count("READ_MAX_CELLS", cls.read_max_cells),
            read_max_vertices=_env_count("READ_MAX_VERTICES", cls.read_max_vertices),
            landing_quiet_seconds=_env_seconds("LANDING_QUIET_SECONDS", cls.landing_quiet_seconds),
            service_max_rows=_env_count("SERVICE_MAX_ROWS", cls.service_max_rows),
            service_max_batch=_env_count("SERVICE_MAX_BATCH", cls.service_max_batch),
            cookie_secure=_env_choice("COOKIE_SECURE", "auto", ("auto", "true", "false")),
            trusted_proxies=_env_networks("TRUSTED_PROXIES"),
            arrow_max_rows=_env_count("ARROW_MAX_ROWS", cls.arrow_max_rows),
            arrow_memory_pool=_env_choice(
                "ARROW_MEMORY_POOL", cls.arrow_memory_pool, ARROW_MEMORY_POOLS
            ),
            smtp_host=_env("SMTP_HOST", ""),
            smtp_port=_env_count("SMTP_PORT", cls.smtp_port),
            smtp_from=_env("SMTP_FROM", ""),
            smtp_user=_env("SMTP_USER", ""),
            smtp_password_file=_env("SMTP_PASSWORD_FILE", ""),
        )

    def as_dict(self) -> dict[str, object]:
        """Every user-facing setting by name (the clock is not one; a password in ``db_url`` is
        shown as ``***``)."""
        values = {name: getattr(self, name) for name in _setting_names()}
        values["db_url"] = _without_password(self.db_url)
        return values

    @staticmethod
    def variable_names() -> dict[str, str]:
        """Setting name → environment variable that overrides it (for ``govlake config``)."""
        return {name: ENV_PREFIX + name.upper() for name in _setting_names()}


#: Passwords of examples, images' defaults and placeholders: production refuses them like the
#: public development keys (a password equal to the user name too).
DEVELOPMENT_DB_PASSWORDS = frozenset(
    {"password", "postgres", "airflow", "govlake", "secret", "change-me", "changeme", "test"}
)


def _refuse_weak_store(db_url: str) -> None:
    """Raises :class:`SettingsError` unless ``db_url`` is a PostgreSQL URL with a password of
    the deployment's own: what production keeps its accounts, tokens and grants in."""
    variable = f"{ENV_PREFIX}DB_URL"
    fix = (
        f"set {variable} to postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE with a password "
        "of your own (docker/entrypoint.sh builds it from the secret file postgres_password)"
    )
    parts = urlsplit(db_url)
    if not db_url or parts.scheme.split("+")[0] == "sqlite":
        raise SettingsError(
            f"{variable} is {'a SQLite file' if db_url else 'not set (a SQLite file)'}: in "
            f"production the workflow store is a PostgreSQL server; {fix}"
        )
    if parts.scheme.split("+")[0] != "postgresql":
        raise SettingsError(f"{variable} names a {parts.scheme} database: in production {fix}")
    password = unquote(parts.password or "")
    if not password:
        raise SettingsError(f"{variable} has no password: in production {fix}")
    if password.lower() in DEVELOPMENT_DB_PASSWORDS or password == unquote(parts.username or ""):
        raise SettingsError(
            f"{variable} has a development password (a well-known default): in production {fix}"
        )


def _without_password(url: str) -> str:
    """``postgresql+psycopg://govlake:***@db/govlake`` for a URL carrying a password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{location}"


def _setting_names() -> list[str]:
    return [f.name for f in fields(Settings) if f.name != "clock"]

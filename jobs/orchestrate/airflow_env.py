"""The embedded Airflow: its home folder, configuration, keys, SQLite database and pools.

govlake runs Airflow inside the project folder by default, so that a fresh clone needs no
Airflow set-up of its own::

    data/airflow/              AIRFLOW_HOME (ignored by git)
      airflow.cfg              written here, with keys generated for this home only
      airflow.db               the SQLite metadata database
      logs/
    dags/                      the DAGs folder (wiring only)

Airflow reads its configuration once, when ``airflow`` is first imported, so
:func:`activate` must run before any Airflow import in the process; it refuses (with the
reason) when Airflow was already configured for another home. The functions that need Airflow
(:func:`ensure_database`, :func:`ensure_pools`) import it themselves.

Production deployments configure Airflow through their own environment (Postgres, an
executor); they never call this module, and the DAG files do not need it. The same home on a
PostgreSQL server instead of the SQLite file (what the tests of production behaviour run): give
its URL in ``$GOVLAKE_AIRFLOW_DATABASE_URL`` (``postgresql+psycopg://user@host:port/db``).
"""

from __future__ import annotations

import base64
import configparser
import functools
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.catalog import load_catalog
from jobs.orchestrate.names import pool_name
from jobs.settings import PROJECT_ROOT, Settings

#: Overrides the embedded home (default ``<project>/data/airflow``).
HOME_ENV = "GOVLAKE_AIRFLOW_HOME"
#: Pool slots per department: ``"2"`` for all, or ``"2,gaj=4,zrzyj=1"`` with overrides.
POOL_SLOTS_ENV = "GOVLAKE_AIRFLOW_POOL_SLOTS"
#: The metadata database's SQLAlchemy URL instead of the home's SQLite file.
DATABASE_URL_ENV = "GOVLAKE_AIRFLOW_DATABASE_URL"
DEFAULT_POOL_SLOTS = 2

#: Keys govlake writes into airflow.cfg when it creates it; generated once per home and kept.
_SECRET_OPTIONS: tuple[tuple[str, str], ...] = (
    ("core", "fernet_key"),
    ("api", "secret_key"),
    ("api_auth", "jwt_secret"),
)


class AirflowEnvError(RuntimeError):
    """The embedded Airflow cannot be set up as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class AirflowEnv:
    """Where the embedded Airflow lives. Build with :func:`resolve`."""

    home: Path
    dags_folder: Path
    #: A database server's SQLAlchemy URL; empty: the SQLite file in the home.
    database_url: str = ""

    @property
    def config_file(self) -> Path:
        return self.home / "airflow.cfg"

    @property
    def database_file(self) -> Path:
        return self.home / "airflow.db"

    @property
    def sql_alchemy_conn(self) -> str:
        # Airflow refuses relative SQLite paths; four slashes = absolute path.
        return self.database_url or f"sqlite:///{self.database_file}"

    @property
    def database(self) -> str:
        """The metadata database as people read it: the SQLite file, or the server's URL
        without its password."""
        if not self.database_url:
            return str(self.database_file)
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def log_folder(self) -> Path:
        return self.home / "logs"

    def environ(self) -> dict[str, str]:
        """The environment variables that point Airflow at this home.

        Set as variables (not only in airflow.cfg) because they win over any airflow.cfg and
        over stray ``AIRFLOW__*`` settings of the shell, and they follow the project folder if
        it moves. The keys stay in airflow.cfg, out of the process listing.
        """
        return {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW_CONFIG": str(self.config_file),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.log_folder),
            **_async_conn(self.sql_alchemy_conn),
        }


def _async_conn(sync_url: str) -> dict[str, str]:
    """The async URL of the API server's engine, when Airflow's own guess would fail: for
    ``postgresql+psycopg`` it derives ``postgresql+asyncpg``, a driver govlake does not install;
    psycopg 3 serves both."""
    scheme, _, rest = sync_url.partition("://")
    if scheme != "postgresql+psycopg":
        return {}
    return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": f"postgresql+psycopg_async://{rest}"}


def resolve(home: str | Path | None = None, dags_folder: str | Path | None = None) -> AirflowEnv:
    """The embedded Airflow of this project: ``home`` > ``$GOVLAKE_AIRFLOW_HOME`` > data/airflow."""
    chosen = home or os.environ.get(HOME_ENV, "").strip() or PROJECT_ROOT / "data" / "airflow"
    home_path = Path(chosen).expanduser()
    if not home_path.is_absolute():
        home_path = PROJECT_ROOT / home_path
    dags_path = Path(dags_folder).expanduser().resolve() if dags_folder else PROJECT_ROOT / "dags"
    database_url = os.environ.get(DATABASE_URL_ENV, "").strip()
    return AirflowEnv(home=home_path.resolve(), dags_folder=dags_path, database_url=database_url)


def activate(home: str | Path | None = None, dags_folder: str | Path | None = None) -> AirflowEnv:
    """Prepares the home (folders, airflow.cfg with generated keys) and sets the environment.

    Call before the first ``import airflow`` of the process. Calling it again for the same
    home is harmless; for another home once Airflow is imported it raises, because Airflow
    would silently keep using the first one.
    """
    env = resolve(home, dags_folder)
    _refuse_if_configured_elsewhere(env)
    env.home.mkdir(parents=True, exist_ok=True)
    env.log_folder.mkdir(parents=True, exist_ok=True)
    write_config(env)
    os.environ.update(env.environ())
    return env


def write_config(env: AirflowEnv) -> Path:
    """Writes ``airflow.cfg`` for this home, keeping the keys of an earlier one.

    Keys are generated here, once per home, with the standard library (a Fernet key is 32
    random bytes, urlsafe base64): a home's keys never leave it and are never committed
    (data/airflow/ is ignored by git). Running the plain ``airflow`` command with
    ``AIRFLOW_HOME=data/airflow`` then sees the same database, DAGs and keys.
    """
    existing = configparser.ConfigParser(interpolation=None)
    if env.config_file.exists():
        existing.read(env.config_file, encoding="utf-8")
    keys = {
        (section, option): existing.get(section, option, fallback="") or _new_key(option)
        for section, option in _SECRET_OPTIONS
    }
    text = _CONFIG_TEMPLATE.format(
        dags_folder=env.dags_folder,
        sql_alchemy_conn=env.sql_alchemy_conn,
        log_folder=env.log_folder,
        fernet_key=keys["core", "fernet_key"],
        api_secret_key=keys["api", "secret_key"],
        jwt_secret=keys["api_auth", "jwt_secret"],
    )
    if not env.config_file.exists() or env.config_file.read_text(encoding="utf-8") != text:
        env.config_file.write_text(text, encoding="utf-8")
    env.config_file.chmod(0o600)  # it holds keys
    return env.config_file


def _new_key(option: str) -> str:
    if option == "fernet_key":
        return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")
    return secrets.token_urlsafe(32)


_CONFIG_TEMPLATE = """\
# Written by govlake (jobs/orchestrate/airflow_env.py) for the embedded Airflow.
# The keys below were generated for this home only: never commit or copy this file.
# Paths are rewritten on every `govlake airflow ...`; other changes are overwritten too, so
# put lasting settings in AIRFLOW__<SECTION>__<KEY> environment variables instead.

[core]
dags_folder = {dags_folder}
load_examples = False
fernet_key = {fernet_key}

[database]
sql_alchemy_conn = {sql_alchemy_conn}

[logging]
base_log_folder = {log_folder}

[api]
secret_key = {api_secret_key}

[api_auth]
jwt_secret = {jwt_secret}
"""


def _refuse_if_configured_elsewhere(env: AirflowEnv) -> None:
    if "airflow.configuration" not in sys.modules:
        return
    from airflow import settings
    from airflow.configuration import AIRFLOW_HOME

    # The engine was built from settings.SQL_ALCHEMY_CONN at import; later changes to the
    # environment would only fool conf.get(), not the engine.
    configured_home = Path(AIRFLOW_HOME).expanduser().resolve()
    configured_db = settings.SQL_ALCHEMY_CONN or ""
    configured_dags = Path(settings.DAGS_FOLDER).resolve()
    if (configured_home, configured_db, configured_dags) != (
        env.home,
        env.sql_alchemy_conn,
        env.dags_folder,
    ):
        raise AirflowEnvError(
            f"Airflow is already configured in this process for AIRFLOW_HOME={configured_home} "
            f"({configured_db}, DAGs in {configured_dags}); it reads its configuration once, at "
            f"import, so it cannot switch to {env.home} (DAGs in {env.dags_folder}). Activate "
            "the govlake Airflow environment before anything imports airflow, or run the DAG in "
            "a separate process (run_dag(..., isolated=True))."
        )


# --- after Airflow is imported --------------------------------------------------------------


def sync_sqlite_at_checkpoints() -> None:
    """Lets this process's commits to a SQLite metadata database skip the disk sync.

    Airflow keeps SQLite in WAL mode, where each commit still waits for the disk (2 ms here,
    about 600 commits for the ingestion DAGs of a demo); with ``synchronous=NORMAL`` the log is
    synced at checkpoints only. A commit survives a crash of the process; a power cut may
    lose the last few, never the database (SQLite's documented guarantee for WAL). A database
    server is left as it is.
    """
    from airflow import settings
    from sqlalchemy import event

    engine = settings.engine
    if engine is None or engine.dialect.name != "sqlite":
        return
    if not event.contains(engine, "connect", _synchronous_normal):
        event.listen(engine, "connect", _synchronous_normal)
        engine.dispose()  # connections opened before get it too: they are opened again


def _synchronous_normal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@dataclass(frozen=True)
class DatabaseStatus:
    """What :func:`ensure_database` found and did."""

    revision: str | None
    head: str
    migrated: bool
    seconds: float


def ensure_database() -> DatabaseStatus:
    """Migrates the metadata database to Airflow's head revision, only when it is behind.

    Equivalent to ``airflow db migrate`` (a new database is created from the models, an old one
    upgraded); the revision check alone costs well under a second, the migration itself several.
    """
    from airflow.utils import db
    from airflow.utils.session import create_session

    started = time.perf_counter()
    head = _head_revision()
    with create_session() as session:
        revision = db._get_current_revision(session)
    migrated = revision != head
    if migrated:
        db.upgradedb()
    return DatabaseStatus(revision, head, migrated, time.perf_counter() - started)


@functools.cache
def _head_revision() -> str:
    """Airflow's newest migration, read once per process: finding it loads every migration
    script (~40 ms), and it changes only with the installed Airflow."""
    from airflow.utils import db

    return db._get_script_object().get_current_head()  # private, but what Airflow itself uses


def pool_slots(departments: list[str], spec: str | None = None) -> dict[str, int]:
    """Slots per department pool from ``$GOVLAKE_AIRFLOW_POOL_SLOTS`` (or ``spec``).

    ``"2"`` gives every department 2 slots; ``"2,gaj=4,zrzyj=1"`` sets a default and overrides.
    """
    spec = os.environ.get(POOL_SLOTS_ENV, "") if spec is None else spec
    default, overrides = DEFAULT_POOL_SLOTS, {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, eq, value = item.partition("=")
        try:
            slots = int(value if eq else name)
        except ValueError:
            raise AirflowEnvError(f"{POOL_SLOTS_ENV}: {item!r} is not N or <dept>=N") from None
        if slots < 1:
            raise AirflowEnvError(f"{POOL_SLOTS_ENV}: {item!r} needs at least 1 slot")
        if eq:
            overrides[name.strip()] = slots
        else:
            default = slots
    unknown = sorted(set(overrides) - set(departments))
    if unknown:
        raise AirflowEnvError(f"{POOL_SLOTS_ENV}: unknown department(s) {', '.join(unknown)}")
    return {code: overrides.get(code, default) for code in departments}


def ensure_pools(slots: dict[str, int] | None = None) -> dict[str, int]:
    """Creates or updates one Airflow pool per catalog department (``dept_<code>``).

    Returns pool name → slots. Departments come from the catalog, so a new department gets
    its pool on the next ``govlake airflow init`` or run.
    """
    from airflow.models.pool import Pool  # Airflow: imported once activate() has set it up

    catalog = load_catalog(Settings.from_env().schemas_root)
    if slots is None:
        slots = pool_slots(list(catalog.departments))
    created: dict[str, int] = {}
    for code, count in slots.items():
        department = catalog.departments.get(code)
        label = f"{department.name} ({code})" if department else code
        Pool.create_or_update_pool(
            name=pool_name(code),
            slots=count,
            description=f"Ingestion slots of {label}; one department cannot starve another.",
            include_deferred=False,
        )
        created[pool_name(code)] = count
    return created


@dataclass(frozen=True)
class InitResult:
    """What :func:`initialize` set up."""

    env: AirflowEnv
    database: DatabaseStatus
    pools: dict[str, int]


def initialize(home: str | Path | None = None, dags_folder: str | Path | None = None) -> InitResult:
    """The whole embedded set-up: environment, database at head, department pools."""
    env = activate(home, dags_folder)
    sync_sqlite_at_checkpoints()
    database = ensure_database()
    pools = ensure_pools()
    return InitResult(env=env, database=database, pools=pools)

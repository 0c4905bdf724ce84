"""Load benchmark of the department service: concurrent departments' applications reading pages
and running 核验 batches against a population base, every request audited.

Set-up (timed apart, not part of the figures), under a temporary root:

* ``base/population``: N persons with valid citizen IDs, names, births, genders, regions,
  phones, written straight through delta-rs in the shape the base build gives it (not through
  the pipeline: this measures the service, not the build);
* ``share/mzj/population``: the consumer's curated share of it, masked and tokenised as the
  share refresh does (:mod:`jobs.share.curate`), one row group per file as Spark writes it;
* in the workflow store: a system client of 民政局 (mzj) with an API token and an active grant
  of the population base (read, which also allows 核验);
* ``govlake serve --workers W`` itself, in a subprocess on 127.0.0.1 and a free port.

Then C client threads, each on its own keep-alive connection, send for a fixed duration a mix
of ``page`` calls (100 rows: a first page, then up to 9 pages following ``next_cursor``) and
``verify`` calls (100 IDs: matching claims, mismatching ones and IDs not in the base), in two
scenarios (:data:`SCENARIOS`): ``paced`` (a think time between a client's calls) and
``flat_out`` (none). Per scenario and kind: requests, requests/s, p50/p95/p99/max latency (ms),
errors, the service's CPU per call (``server_cpu_ms``, which a busy machine disturbs least), its
resident memory (``server_rss_mib``, all workers), and the clients' own CPU per call
(``client_cpu_ms``): the clients are threads of the benchmark's process, apart from the
service's (they never hold its GIL), but on the same two cores, so what they spend (about a
millisecond a call, against 8-10 for the service) is taken from the service. Before the
scenarios as many clients as measured call, paced, for :data:`WARM_SECONDS`: every worker has imported what it
needs and loaded the base's key column for 核验 (its first batch takes seconds), which a
service restarted in production also pays once per worker.
After each scenario the audit log is read from its own table: the entries the scenario wrote
must equal the calls it was served (one per successful call); at the end ``govlake audit
verify``'s check must pass on the whole chain.

Sizes: 1,000,000 persons, 50 clients, 60 s, 2 workers; ``--quick`` 100,000 persons, 10
clients, 10 s, 1 worker. ``--persons N``, ``--clients``, ``--seconds`` and ``--workers`` change
them. Run alone with ``python -m bench --only service``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.common import settings_under
from jobs.settings import Settings

QUICK = {"persons": 100_000, "clients": 10, "seconds": 10.0, "workers": 1}
#: One worker process per core of the machine the goal is set for.
FULL = {"persons": 1_000_000, "clients": 50, "seconds": 60.0, "workers": 2}
#: How the clients call, each run in turn: ``paced`` waits a random think time between calls
#: (exponential, this mean in seconds), as departments' applications serving their own users
#: do; ``flat_out`` sends the next call as soon as the last is answered (the service's capacity,
#: and what its latency becomes when every core is busy).
SCENARIOS = {"paced": 0.5, "flat_out": 0.0}
#: Seconds of paced calls before the scenarios (at most a scenario's length).
WARM_SECONDS = 10.0
#: Share of calls that are 核验 batches (the rest are 100-row pages).
VERIFY_SHARE = 0.5
PAGE_ROWS = 100
BATCH_IDS = 100
#: Pages a client follows with ``next_cursor`` before it starts a query again.
PAGES_PER_QUERY = 10
CONSUMER = "mzj"
CLIENT_LOGIN = "mzj_bench_app"
GRANTED = [
    "person_id",
    "person_name",
    "gender",
    "birth_date",
    "domicile_region",
    "hukou_status",
    "phone_number",
    "is_deceased",
]
#: Files of the share (Spark writes one per task; each is one row group at this size).
SHARE_FILES = 8

REGIONS = ["410602", "410603", "410611", "410621", "410622", "410601", "410600", "410604"]
#: Valid region prefix no generated person has: IDs for 核验's "not found" answers.
ABSENT_REGION = "410699"
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文")
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))


# --- the population -------------------------------------------------------------------------


def citizen_ids(region: np.ndarray, born: np.ndarray, sequence: np.ndarray) -> pa.Array:
    """Valid 18-character citizen IDs (GB 11643 check character) from their parts."""
    digits = np.empty((len(region), 17), dtype=np.int64)
    for i in range(6):
        digits[:, i] = region // 10 ** (5 - i) % 10
    ymd = _ymd(born)
    for i in range(8):
        digits[:, 6 + i] = ymd // 10 ** (7 - i) % 10
    for i in range(3):
        digits[:, 14 + i] = sequence // 10 ** (2 - i) % 10
    check = _CHECK[(digits @ _WEIGHTS) % 11]
    return pc.binary_join_element_wise(
        pc.utf8_lpad(pa.array(region).cast(pa.string()), 6, "0"),
        pa.array(ymd).cast(pa.string()),
        pc.utf8_lpad(pa.array(sequence).cast(pa.string()), 3, "0"),
        pa.array(check),
        "",
    )


def _ymd(born: np.ndarray) -> np.ndarray:
    years = born.astype("datetime64[Y]")
    months = born.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = (months - years).astype(np.int64) + 1
    day = (born - months).astype(np.int64) + 1
    return year * 10000 + month * 100 + day


def population(persons: int, seed: int = 15) -> pa.Table:
    """``base/population``'s shape: one row per natural person, keyed by ``person_id``."""
    rng = np.random.default_rng(seed)
    combo = rng.permutation(persons)
    days = 32_000  # birth dates 1930-01-01 … 2017-08
    region = np.array([int(r) for r in REGIONS])[combo % len(REGIONS)]
    born = np.datetime64("1930-01-01") + (combo // len(REGIONS)) % days
    sequence = (combo // (len(REGIONS) * days)) * 100 + rng.integers(0, 100, persons)
    ids = citizen_ids(region, born, sequence)
    gender = np.where(sequence % 2 == 1, "1", "2")
    surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), persons)]
    given = np.array(GIVEN)[rng.integers(0, len(GIVEN), (persons, 2))]
    one_char = rng.random(persons) < 0.3
    names = pc.binary_join_element_wise(
        surname, given[:, 0], np.where(one_char, "", given[:, 1]), ""
    )
    phones = pc.binary_join_element_wise(
        "13", pa.array(rng.integers(100_000_000, 999_999_999, persons)).cast(pa.string()), ""
    )
    no_phone = rng.random(persons) < 0.2
    dead = rng.random(persons) < 0.01
    return pa.table(
        {
            "person_id": ids,
            "person_name": names,
            "gender": pa.array(gender),
            "birth_date": pa.array(born.astype("datetime64[D]")).cast(pa.date32()),
            "ethnicity": pa.array(np.where(rng.random(persons) < 0.95, "01", "03")),
            "domicile_address": pc.binary_join_element_wise(
                "河南省鹤壁市", pa.array(rng.integers(1, 300, persons)).cast(pa.string()), "号", ""
            ),
            "household_number": pa.array(rng.integers(10**8, 10**9, persons)).cast(pa.string()),
            "hukou_status": pa.array(np.where(dead, "deceased", "normal")),
            "domicile_region": pa.array(region.astype(str)),
            "phone_number": pc.if_else(no_phone, pa.scalar(None, pa.string()), phones),
            "death_date": pa.array(np.full(persons, None), pa.date32()),
            "marital_status": pa.array(np.where(rng.random(persons) < 0.6, "20", "10")),
            "disputed_elements": pa.ListArray.from_arrays(
                pa.array(np.zeros(persons + 1, np.int32)), pa.array([], pa.string())
            ),
            "is_deceased": pa.array(dead),
            "is_insured": pa.array(rng.random(persons) < 0.7),
            "employer_uscc": pa.nulls(persons, pa.string()),
        }
    )


def curated(base: pa.Table, settings: Settings) -> pa.Table:
    """The consumer's share of ``base`` as :mod:`jobs.share.curate` makes it: the granted
    columns, each by its rule (token, mask or clear), in Arrow instead of Spark."""
    from jobs.catalog import load_catalog
    from jobs.share.keys import load_share_key
    from jobs.share.masking import hmac_sha256_hex_py
    from jobs.share.policy import column_rules, load_masking, resolve_dataset

    masking = load_masking(settings.schemas_root)
    dataset = resolve_dataset("population", load_catalog(settings.schemas_root), settings, masking)
    token_key = load_share_key(settings).for_consumer(CONSUMER)
    columns = {}
    for rule in column_rules(dataset, base.column_names, masking, GRANTED):
        values = base.column(rule.column).combine_chunks()
        if rule.treatment == "token":
            tokens = [hmac_sha256_hex_py(v, token_key) if v else None for v in values.to_pylist()]
            columns[rule.column] = pa.array(tokens, pa.string())
        elif rule.treatment == "mask":
            columns[rule.column] = ARROW_MASKS[rule.mask](values)
        elif rule.treatment == "clear":
            columns[rule.column] = values
    return pa.table(columns)


def _first_character(names: pa.Array) -> pa.Array:
    hidden = pc.max_element_wise(pc.subtract(pc.utf8_length(names), 1), 1)
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(names, 0, 1), pc.binary_repeat("*", hidden), ""
    )


def _phone(phones: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(phones, 0, 3), "****", pc.utf8_slice_codeunits(phones, 7, 11), ""
    )


def _year(dates: pa.Array) -> pa.Array:
    years = pc.year(dates).cast(pa.string())
    return pc.strptime(pc.binary_join_element_wise(years, "-01-01", ""), "%Y-%m-%d", "s").cast(
        pa.date32()
    )


ARROW_MASKS = {"first_character": _first_character, "phone": _phone, "year": _year}


# --- the set-up -----------------------------------------------------------------------------


def write_lake(settings: Settings, base: pa.Table) -> None:
    """``base/population`` and the consumer's share, written through delta-rs."""
    from deltalake import WriterProperties, write_deltalake

    from jobs.lake.registry import SHARE, table_at

    write_deltalake(table_at("base", "population").uri(settings), base, mode="overwrite")
    share = curated(base, settings)
    uri = SHARE.uri(settings, CONSUMER, "population")
    per_file = -(-share.num_rows // SHARE_FILES)
    for start in range(0, share.num_rows, per_file):
        part = share.slice(start, per_file)
        write_deltalake(
            uri,
            part,
            mode="append",
            writer_properties=WriterProperties(max_row_group_size=part.num_rows),
        )


def consumer_token(settings: Settings) -> str:
    """A system client of the consumer with an API token and an active grant of the base."""
    from jobs.share import grants
    from jobs.store import accounts
    from jobs.store.db import transaction
    from jobs.store.roles import DATA_OFFICER, SYSTEM_CLIENT, Actor

    with transaction(settings) as session:
        accounts.sync_departments(session, accounts.catalog_departments(settings.schemas_root))
        accounts.create_account(
            session,
            login=CLIENT_LOGIN,
            department=CONSUMER,
            display_name="民政局低保核验系统",
            roles=[SYSTEM_CLIENT],
            password=None,
            now=settings.now(),
        )
        token, _ = accounts.issue_token(session, CLIENT_LOGIN, now=settings.now())
    grants.request_share(
        settings,
        consumer=CONSUMER,
        dataset_id="population",
        fields=GRANTED,
        purpose="低保核验",
        by=Actor("mzj_officer", CONSUMER, frozenset({DATA_OFFICER})),
    )
    return token


def service_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``govlake serve`` read the benchmark's lake and store."""
    return {
        **os.environ,
        "GOVLAKE_LAKE_ROOT": settings.lake_root,
        "GOVLAKE_LANDING_ROOT": settings.landing_root,
        "GOVLAKE_REPORTS_ROOT": settings.reports_root,
        "GOVLAKE_REID_ROOT": settings.reid_root,
        "GOVLAKE_BACKUP_ROOT": settings.backup_root,
        "GOVLAKE_ENV": "development",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), *sys.path]),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_service(
    settings: Settings, log: Path, timeout: float = 180.0, workers: int = 1
) -> Iterator[tuple[int, subprocess.Popen]]:
    """``govlake serve`` on 127.0.0.1 and a free port until the block ends; yields the port
    and the process."""
    port = _free_port()
    command = ["serve", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", *command],
            env=service_env(settings),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"govlake serve exited: {log.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"govlake serve did not answer in {timeout:.0f} s")
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    connection.request("GET", "/api/v1/whoami")
                    connection.getresponse().read()
                    break
                except OSError:
                    time.sleep(0.2)
            yield port, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- the load -------------------------------------------------------------------------------


@dataclass
class Call:
    kind: str
    status: int
    seconds: float


@dataclass
class Client:
    """One department application: its own connection, cursor and random stream."""

    port: int
    token: str
    persons: pa.Table
    rng: random.Random
    calls: list[Call] = field(default_factory=list)
    cursor: str | None = None
    pages_left: int = 0

    def __post_init__(self) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def run(self, until: float, think: float = 0.0) -> None:
        while time.monotonic() < until:
            if self.rng.random() < VERIFY_SHARE:
                # The batch is made before the clock starts: a call's latency is the service's.
                body = self.verify_body()
                self.timed("verify", lambda body=body: self.verify(body))
            else:
                self.timed("page_next" if self.cursor else "page_first", self.page)
            if think:
                time.sleep(min(self.rng.expovariate(1 / think), max(0.0, until - time.monotonic())))

    def timed(self, kind: str, call: Any) -> None:
        started = time.perf_counter()
        try:
            status = call()
        except (OSError, http.client.HTTPException):
            status = 0
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.calls.append(Call(kind, status, time.perf_counter() - started))

    def _send(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def page(self) -> int:
        path = f"/api/v1/datasets/population/rows?limit={PAGE_ROWS}"
        if self.cursor:
            path += f"&cursor={quote(self.cursor)}"
        status, body = self._send("GET", path)
        self.pages_left -= 1
        self.cursor = json.loads(body).get("next_cursor") if status == 200 else None
        if self.pages_left <= 0 or not self.cursor:
            self.cursor, self.pages_left = None, PAGES_PER_QUERY
        return status

    def verify_body(self) -> bytes:
        """A 核验 batch of ``BATCH_IDS`` persons: most claims true, some false, some IDs absent."""
        rows = self.persons.take(
            [self.rng.randrange(self.persons.num_rows) for _ in range(BATCH_IDS)]
        ).to_pylist()
        items = []
        for number, row in enumerate(rows):
            draw = self.rng.random()
            claims = {"person_name": row["person_name"], "birth_date": str(row["birth_date"])}
            if draw < 0.2:  # a claim that does not match
                claims["person_name"] = row["person_name"][:1] + "某某"
            elif draw < 0.3:  # an ID the base does not hold
                row["person_id"] = ABSENT_REGION + row["person_id"][6:-4] + f"{number:03d}"
                row["person_id"] += _check_character(row["person_id"])
            items.append({"id": row["person_id"], "claims": claims})
        if len({i["id"] for i in items}) != len(items):  # each ID once a batch
            items = list({i["id"]: i for i in items}.values())
        return json.dumps({"items": items}, ensure_ascii=False).encode()

    def verify(self, body: bytes) -> int:
        status, _ = self._send("POST", "/api/v1/datasets/population/verify", body)
        return status


def _check_character(first17: str) -> str:
    return str(_CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11])


def load(
    port: int, token: str, persons: pa.Table, clients: int, seconds: float, think: float = 0.0
) -> list[Call]:
    """``clients`` threads calling for ``seconds`` (``think`` seconds apart on average); every
    call they made, when it ended."""
    crowd = [Client(port, token, persons, random.Random(n)) for n in range(clients)]
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=c.run, args=(until, think)) for c in crowd]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [call for c in crowd for call in c.calls]


def figures(calls: list[Call], kind: str, seconds: float) -> dict[str, Any]:
    """Requests, requests/s and latency percentiles (ms) of the calls of one kind."""
    chosen = [c for c in calls if kind == "all" or c.kind == kind]
    latencies = np.array([c.seconds * 1000 for c in chosen]) if chosen else np.zeros(1)
    served = sum(1 for c in chosen if c.status == 200)
    return {
        "kind": kind,
        "requests": len(chosen),
        "served": served,
        "errors": len(chosen) - served,
        "req_per_s": round(len(chosen) / seconds, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "max_ms": round(float(latencies.max()), 1),
    }


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user and system) of a process and its children so far."""
    import psutil

    process = psutil.Process(pid)
    times = [p.cpu_times() for p in (process, *process.children(recursive=True))]
    return sum(t.user + t.system for t in times)


def _rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children."""
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in (process, *process.children(recursive=True)))


def audited_since(settings: Settings, after_seq: int) -> dict[str, int]:
    """Audit entries of the benchmark's account after ``after_seq``, by action, read from the
    audit table itself."""
    from jobs.audit.log import read_entries

    counts: dict[str, int] = {}
    for entry in read_entries(settings):
        if entry["seq"] > after_seq and entry["actor"] == CLIENT_LOGIN:
            counts[entry["action"]] = counts.get(entry["action"], 0) + 1
    return counts


# --- the benchmark --------------------------------------------------------------------------


def measure(
    settings: Settings,
    persons: int,
    clients: int,
    seconds: float,
    scratch: Path,
    workers: int = 1,
) -> list[dict[str, Any]]:
    """Builds the lake, starts the service, runs each scenario; one row per scenario and kind
    of call, the scenario's totals and audit count in its ``all`` row."""
    from jobs.audit.log import verify

    settings = settings_under(settings, scratch)
    started = time.perf_counter()
    base = population(persons)
    write_lake(settings, base)
    token = consumer_token(settings)
    setup_s = time.perf_counter() - started
    sample = base.select(["person_id", "person_name", "birth_date"])
    rows: list[dict[str, Any]] = []
    with running_service(settings, scratch / "serve.log", workers=workers) as (port, server):
        # Imports done and the base's key column in every worker's memory: each client's
        # connection stays with the worker that accepted it, so as many clients as measured.
        warm_s = min(WARM_SECONDS, seconds)
        warm = load(port, token, sample, clients, warm_s, think=SCENARIOS["paced"])
        if not warm or any(c.status != 200 for c in warm):
            raise RuntimeError(f"warm-up calls failed: {sorted({c.status for c in warm})}")
        for scenario, think in SCENARIOS.items():
            before = _audit_head(settings)
            ran, cpu, own = time.perf_counter(), _cpu_seconds(server.pid), time.process_time()
            calls = load(port, token, sample, clients, seconds, think)
            elapsed, server_cpu = time.perf_counter() - ran, _cpu_seconds(server.pid) - cpu
            client_cpu = time.process_time() - own
            audited = audited_since(settings, before)
            kinds = [
                figures(calls, kind, elapsed) for kind in ("page_first", "page_next", "verify")
            ]
            total = figures(calls, "all", elapsed)
            served = {k: sum(c.status == 200 and c.kind.startswith(k) for c in calls) for k in "pv"}
            total.update(
                persons=persons,
                clients=clients,
                workers=workers,
                think_s=think,
                seconds=round(elapsed, 1),
                audit_read=audited.get("read", 0),
                audit_verify=audited.get("verify", 0),
                audit_refused=audited.get("read_refused", 0) + audited.get("verify_refused", 0),
                audit_equal=audited.get("read", 0) == served["p"]
                and audited.get("verify", 0) == served["v"],
                # CPU the service spent per call: comparable between runs on a busy machine,
                # where latencies mostly measure the wait for a core.
                server_cpu_ms=round(server_cpu * 1000 / max(1, len(calls)), 1),
                client_cpu_ms=round(client_cpu * 1000 / max(1, len(calls)), 1),
                server_rss_mib=round(_rss_bytes(server.pid) / 2**20),
                load_avg=round(os.getloadavg()[0], 1),
            )
            rows += [{"scenario": scenario, **row} for row in (*kinds, total)]
    verified_at = time.perf_counter()
    problems, _ = verify(settings)
    rows[-1].update(
        setup_s=round(setup_s, 1),
        chain_ok=not problems,
        chain_verify_s=round(time.perf_counter() - verified_at, 1),
    )
    return rows


def _audit_head(settings: Settings) -> int:
    from jobs.audit.log import recorded_head
    from jobs.lake.registry import AUDIT_LOG

    head = recorded_head(AUDIT_LOG.uri(settings))
    return head[0] if head else -1


def _measured(
    settings: Settings, size: dict[str, Any], persons: list[int] | None
) -> Iterator[list[dict[str, Any]]]:
    """The rows of each size in turn, each measured in a scratch folder of its own."""
    for count in persons or [size["persons"]]:
        with tempfile.TemporaryDirectory(prefix="bench_service_") as scratch:
            yield measure(
                settings,
                count,
                size["clients"],
                size["seconds"],
                Path(scratch),
                size["workers"],
            )


def run(args: argparse.Namespace, settings: Settings) -> list[dict[str, Any]]:
    """Entry for ``python -m bench``: the full size, or ``--quick``; ``--persons`` overrides."""
    size = dict(QUICK if getattr(args, "quick", False) else FULL)
    persons = getattr(args, "persons", None)
    return [row for rows in _measured(settings, size, persons) for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--persons", type=int, action="append")
    parser.add_argument("--clients", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    size = dict(QUICK if args.quick else FULL)
    chosen = {"clients": args.clients, "seconds": args.seconds, "workers": args.workers}
    size.update({k: v for k, v in chosen.items() if v})
    for rows in _measured(Settings.from_env(), size, args.persons):
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

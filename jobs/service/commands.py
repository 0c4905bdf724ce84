"""``govlake serve``: the department service (JSON API and pages) on one port.

    govlake serve [--host 127.0.0.1] [--port 8800] [--workers 1]

Listens on localhost by default; in a deployment a reverse proxy (TLS) sits in front and
``--host 0.0.0.0`` is set inside its container. Exit codes: 0 stopped, 1 refused to start (the
message says why, e.g. production without a session secret, or on a SQLite store).

``--workers N`` answers with N processes sharing the port (one Python process answers on one
core at a time). They append to one audit log in turn under its lock file, each chaining after
the others' entries (:mod:`jobs.audit.log`), which needs the lake on a local or mounted file
system: on an object store the service refuses more than one worker.
"""

from __future__ import annotations

import argparse
import sys

from jobs.settings import Settings, SettingsError

EXIT_REFUSED = 1
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8800
#: What each worker process imports when there are several.
APP_FACTORY = "jobs.service.app:app_from_env"
#: Seconds a worker may take to answer uvicorn's health check before it is replaced.
WORKER_HEALTHCHECK_SECONDS = 120


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from jobs.lake.files import lake_on_local_disk
    from jobs.secrets import SecretError

    settings = Settings.from_env()
    if args.workers > 1 and not lake_on_local_disk(settings):
        print(
            "govlake serve: --workers above 1 needs the lake on a local or mounted file system "
            "(the audit log's appends are serialised by a lock file there); run one worker",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    from jobs.service.app import configure_logging, create_app, settle

    configure_logging()
    try:
        app = create_app(settings)
    except (SecretError, SettingsError) as refused:
        print(f"govlake serve: {refused}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"govlake department service on http://{args.host}:{args.port}/", file=sys.stderr)
    # Our own access line leaves out query strings (filters and IDs are personal data).
    options = {"host": args.host, "port": args.port, "access_log": False, "proxy_headers": False}
    if args.workers > 1:
        # Each worker builds its own app from the environment, as this one was (checked above).
        # Uvicorn replaces a worker that misses its health check: give a starting worker (its
        # imports) and a busy one (a base loaded for 核验) the time they take on a loaded host.
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            workers=args.workers,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            **options,
        )
    else:
        settle()
        uvicorn.run(app, **options)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake serve``."""
    serve = subparsers.add_parser("serve", help="run the department service (API and pages)")
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST})"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes answering requests (1; at most one per core pays)",
    )
    serve.set_defaults(func=_serve)

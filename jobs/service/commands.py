"""``govlake serve``: the department service (JSON API and pages) on one port.

    govlake serve [--host 127.0.0.1] [--port 8800]

Listens on localhost by default; in a deployment a reverse proxy (TLS) sits in front and
``--host 0.0.0.0`` is set inside its container. Exit codes: 0 stopped, 1 refused to start (the
message says why, e.g. production without a session secret, or on a SQLite store).
"""

from __future__ import annotations

import argparse
import logging
import sys

from jobs.settings import Settings, SettingsError

EXIT_REFUSED = 1
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8800


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from jobs.secrets import SecretError
    from jobs.service.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        app = create_app(Settings.from_env())
    except (SecretError, SettingsError) as refused:
        print(f"govlake serve: {refused}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"govlake department service on http://{args.host}:{args.port}/", file=sys.stderr)
    # Our own access line leaves out query strings (filters and IDs are personal data).
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, proxy_headers=False)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake serve``."""
    serve = subparsers.add_parser("serve", help="run the department service (API and pages)")
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST})"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    serve.set_defaults(func=_serve)

"""Ports for the servers tests start (PostgreSQL, Spark, the service, SMTP, Airflow)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A local port nothing listens on now (the OS's pick; a server started next may take it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

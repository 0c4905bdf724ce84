"""The real server on 127.0.0.1 and a free port, stopped on exit: uvicorn in a thread (an app a
test built), or ``govlake serve`` itself in a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import uvicorn

from tests.ports import free_port


@contextlib.contextmanager
def running_server(app, start_timeout: float = 30.0) -> Iterator[str]:
    """Serves ``app`` until the block ends; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="govlake-serve-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting (see the log above)"
        assert time.monotonic() < deadline, f"uvicorn did not start in {start_timeout} s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextlib.contextmanager
def govlake_serve(
    env: Mapping[str, str], log: Path, start_timeout: float = 60.0
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Runs ``govlake serve`` on a free port with ``env`` added to this environment; yields its
    base URL and process, and stops it (SIGTERM, as an operator's Ctrl-C) when the block ends.
    Its standard error goes to ``log``."""
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                assert process.poll() is None, f"govlake serve exited: {log.read_text()}"
                assert time.monotonic() < deadline, f"no answer in {start_timeout} s"
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}", process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

"""The real server: uvicorn on 127.0.0.1 and a free port, in a thread, stopped on exit."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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

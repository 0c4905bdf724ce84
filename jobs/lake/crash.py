"""Crash points: named places in the lake's writers where the crash drill kills a run.

The drill (``tests/drill``) runs a flow in a subprocess with ``GOVLAKE_CRASH_AT=<point>#<n>``:
the n-th time the run passes ``<point>``, :func:`crash_point` SIGKILLs the whole run (the
driver, its JVM and its Python workers: the session the drill started it in), as a power cut
or ``kill -9`` of a container would, with no ``finally`` block, abort or cleanup running. With
``GOVLAKE_CRASH_TRACE=<file>`` every point passed is appended to that file, so a clean run
lists the points a drill can choose from, and a killed run counts its points exactly as the
clean run did, across all its processes (:func:`_count`).

Free in production: the variables are read once, at import; with neither set, a crash point is
one comparison of a module constant. These are the one place below the edges that reads the
environment, because a test must reach into a subprocess it does not otherwise control. The
kill finds the run's processes in ``/proc`` (Linux, where the drill runs).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal

CRASH_AT_ENV = "GOVLAKE_CRASH_AT"
CRASH_TRACE_ENV = "GOVLAKE_CRASH_TRACE"

_CRASH_AT = os.environ.get(CRASH_AT_ENV) or None
_TRACE = os.environ.get(CRASH_TRACE_ENV) or None
_ARMED = bool(_CRASH_AT or _TRACE)
_passed: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Marks a place a crash may happen (between writing files and committing them, between a
    commit and its audit entry, …); does nothing unless the crash drill armed it."""
    if not _ARMED:
        return
    if f"{name}#{_count(name)}" == _CRASH_AT:
        _kill_run()


def _count(name: str) -> int:
    """How many times the run has now passed ``name``, this time included.

    With a trace file the count is the whole run's: the driver and Spark's Python workers (a
    task's files, a data source's commit run in workers, which Spark starts and reuses as it
    likes) append to the one file under a lock, so ``<point>#<n>`` names the same moment of
    every run of the same flow on the same lake.
    """
    if not _TRACE:
        _passed[name] = _passed.get(name, 0) + 1
        return _passed[name]
    with open(_TRACE, "a+", encoding="utf-8") as trace:
        fcntl.flock(trace, fcntl.LOCK_EX)
        trace.seek(0)
        count = 1 + sum(1 for line in trace if line.rsplit("#", 1)[0] == name)
        trace.write(f"{name}#{count}\n")
        trace.flush()
    return count


def _kill_run() -> None:
    # The drill starts each run as the leader of a new session, with the variable set. Spark's
    # Python workers sit in process groups of their own inside that session (pyspark's daemon
    # makes one), so every process of the session goes: the driver, its JVM, every worker.
    # Without an armed leader (a variable set on one command in a shell) only this process
    # dies, so a stray variable can never take down the shell or test runner that started it.
    session = os.getsid(0)
    if CRASH_AT_ENV.encode() in _environ_of(session):
        for pid in _session_members(session) - {os.getpid()}:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _environ_of(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return environ.read()
    except OSError:
        return b""


def _session_members(session: int) -> set[int]:
    members = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                # "pid (comm) state ppid pgrp session …": comm may hold spaces and parentheses
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session:
            members.add(int(entry))
    return members

"""Running calls at the same instant, as two requests or two processes would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def in_threads(**calls: Callable[[], Any]) -> dict[str, Any]:
    """Starts every call at once, each in its own thread; returns name → result, or raises the
    first call's exception (what its user would have seen) once all have finished."""
    start, results, failures = threading.Barrier(len(calls)), {}, {}

    def run(name: str, call: Callable[[], Any]) -> None:
        start.wait()
        try:
            results[name] = call()
        except Exception as exc:  # re-raised below, in the test's thread
            failures[name] = exc

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for name, exc in failures.items():
        raise AssertionError(f"{name} failed: {exc!r}") from exc
    return results


def meeting_after(call: Callable[..., Any], parties: int = 2) -> Callable[..., Any]:
    """``call`` wrapped so that each thread's first call returns only once ``parties`` threads
    have made theirs: all of them have read what they read before any of them writes."""
    together, met = threading.Barrier(parties), set()

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = call(*args, **kwargs)
        if threading.get_ident() not in met:
            met.add(threading.get_ident())
            together.wait(timeout=10)
        return result

    return wrapped


class LockPerThread(dict):
    """A stand-in for a module's dict of locks under which each thread gets a lock of its own:
    the threads act as separate processes would, which no in-process lock serialises."""

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return super().setdefault((key, threading.get_ident()), threading.Lock())


def lock_per_thread() -> LockPerThread:
    return LockPerThread()

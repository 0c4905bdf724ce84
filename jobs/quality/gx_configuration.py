"""Each expectation's configuration built once per validation, not once per question GX asks.

GX's ``Expectation.configuration`` is a property that rebuilds an ``ExpectationConfiguration``
on every read: a pydantic ``.dict()`` of the expectation, a regular expression turning its class
name into its type, and a new object. GX's validator reads it dozens of times per expectation
and metric — in ``_get_domain_kwargs`` once per domain key, in ``_get_success_kwargs`` once per
success key, for every metric dependency — about 80 times per expectation per batch: 34,000
builds for three departments' batches of the demo county, some 40 % of GX's validation time.

:func:`configurations_built_once` keeps, for the duration of one validation on this thread, the
configuration each expectation object built first and hands back that one. Within a validation
an expectation does not change (GX builds the expectation objects from the suite's
configurations when the validation starts and reads them only), so the configuration built
first is the one every later read would build. Outside the block, and on other threads, the
property builds as GX's does. The tests compare whole validation results with and without it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

#: The configurations built in the active validation of this thread, by expectation object id
#: (with the object, so that its id cannot be reused while the block runs).
_active = threading.local()
_installed = False


def _install() -> None:
    """Replaces GX's property by one that consults the thread's active cache (once)."""
    global _installed
    if _installed:
        return
    from great_expectations.expectations.expectation import Expectation

    build = Expectation.configuration.fget

    def configuration(self: Any) -> Any:
        cache = getattr(_active, "cache", None)
        if cache is None:
            return build(self)
        hit = cache.get(id(self))
        if hit is None or hit[0] is not self:
            hit = cache[id(self)] = (self, build(self))
        return hit[1]

    configuration.__doc__ = build.__doc__
    Expectation.configuration = property(configuration)
    _installed = True


@contextlib.contextmanager
def configurations_built_once() -> Iterator[None]:
    """Within the block, on this thread, every expectation's configuration is built on its
    first read and that object returned on every later read. Blocks nest (the outer one's
    cache is kept)."""
    _install()
    outer = getattr(_active, "cache", None)
    _active.cache = {} if outer is None else outer
    try:
        yield
    finally:
        _active.cache = outer

"""Which allocator holds this process's Arrow buffers (the ``arrow_memory_pool`` setting).

Ingestion builds and drops gigabytes of Arrow buffers per million delivered rows. pyarrow's
default allocator, mimalloc, backs large buffers with transparent huge pages; on a virtual
machine whose host takes back the guest's freed memory, the first touch of such pages costs
seconds per gigabyte in the kernel. Measured on this project's 2-core machine, the 1M-row hukou
export landing → pool in a fresh process: mimalloc 13.6–19.3 s with 5–14 s of it system time,
jemalloc 11.2–12.2 s with 2.7–3.1 s system time (the same user time, 14–15 s). jemalloc uses
ordinary pages. ``default`` leaves Arrow's own choice (its ARROW_DEFAULT_MEMORY_POOL variable).

The choice is the process's: buffers made before a switch keep the allocator that made them.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from jobs.settings import ARROW_MEMORY_POOLS

log = logging.getLogger(__name__)

#: The allocator of each value of ``arrow_memory_pool`` but ``default`` (the setting's values
#: are :data:`jobs.settings.ARROW_MEMORY_POOLS`, which the variable is checked against).
_POOLS = {
    "jemalloc": pa.jemalloc_memory_pool,
    "mimalloc": pa.mimalloc_memory_pool,
    "system": pa.system_memory_pool,
}


def use_pool(name: str) -> str:
    """Makes ``name`` (a value of ``arrow_memory_pool``) the pool Arrow allocates from, unless
    it is ``default``; returns the backend in use. A pool this pyarrow was built without
    leaves the current one, with a warning."""
    if name not in ARROW_MEMORY_POOLS:
        raise ValueError(
            f"unknown Arrow memory pool {name!r}: expected one of {', '.join(ARROW_MEMORY_POOLS)}"
        )
    if name != "default":
        try:
            pool = _POOLS[name]()
        except NotImplementedError:
            log.warning("this pyarrow has no %s allocator: Arrow keeps its own", name)
        else:
            pa.set_memory_pool(pool)
    return pa.default_memory_pool().backend_name

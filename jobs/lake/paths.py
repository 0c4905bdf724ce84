"""Where each table lives: the lake layout under ``settings.lake_root``.

One function, :func:`table_uri`, turns a layer and its parts into a table location, so no
transform ever spells a path. The layout follows DESIGN.md §2::

    landing/<dept>/<resource>/<batch>     files exactly as delivered (under settings.landing_root)
    bronze/<dept>/<resource>              raw strings + lineage, append-only
    pool/<dept>/<resource>                the department pool (部门政务数据资源池)
    quarantine/<dept>/<resource>          rejected rows and files with reason codes
    base/<name>                           base databases (基础数据库)
    governance/<name>                     conflicts, verification tickets, audit log
    share/<consumer>/<dataset>            curated tables granted to a consumer
    open/<dataset>                        de-identified open data
    reid/<consumer>/<dataset>             re-identification tables (under settings.reid_root)
    scratch/<job>/<run>                   files a run makes on its way, never a table (the
                                          integration core's task files while a build runs)

The root may be a local folder or an object-store URI (``s3://…``, ``abfss://…``); parts are
joined with ``/`` for URIs and with the OS separator for local folders.
"""

from __future__ import annotations

import os
import re

from jobs.settings import Settings

#: layer → (minimum parts, maximum parts, what the parts are). Landing is a folder of files,
#: not a table, so it may be addressed at any depth from the root down to one batch.
LAYERS: dict[str, tuple[int, int, str]] = {
    "landing": (0, 3, "[dept, [resource, [batch]]]"),
    "bronze": (2, 2, "dept, resource"),
    "pool": (2, 2, "dept, resource"),
    "quarantine": (2, 2, "dept, resource"),
    "base": (1, 1, "name"),
    "governance": (1, 1, "name"),
    "share": (2, 2, "consumer, dataset"),
    "open": (1, 1, "dataset"),
    "reid": (2, 2, "consumer, dataset"),
    # Inside the lake, on its disk, so that files move into a table without a copy; visible, so
    # that lake maintenance removes the files a killed run left as orphans (personal data).
    "scratch": (2, 2, "job, run"),
}

# A part is one folder name. Leading "_" and "." are refused because Delta, Spark and vacuum
# treat such folders as hidden: a table there would be invisible or deleted.
_BAD_PART = re.compile(r"^[_.]|[/\\\x00-\x1f]|^$")


def table_uri(settings: Settings, layer: str, *parts: str) -> str:
    """Returns the location of a table (or the landing folder) in the lake layout.

    Args:
        settings: effective settings; ``lake_root`` (``landing_root`` for ``landing``,
            ``reid_root`` for ``reid``).
        layer: one of :data:`LAYERS`.
        parts: the folder names below the layer, e.g. ``("gaj", "hukou")`` for a pool.

    Raises:
        ValueError: unknown layer, wrong number of parts, or a part that is not a plain,
            visible folder name (empty, contains a separator, starts with ``_`` or ``.``).
    """
    if layer not in LAYERS:
        raise ValueError(f"unknown lake layer {layer!r}; expected one of {sorted(LAYERS)}")
    least, most, what = LAYERS[layer]
    if not least <= len(parts) <= most:
        raise ValueError(f"layer {layer!r} takes {what}; got {len(parts)} part(s): {parts!r}")
    for part in parts:
        if not isinstance(part, str) or _BAD_PART.search(part) or part == "..":
            raise ValueError(f"invalid folder name {part!r} for layer {layer!r}")
    return join_uri(layer_uri(settings, layer), *parts)


def layer_uri(settings: Settings, layer: str) -> str:
    """The folder holding a whole layer (its tables are below it)."""
    if layer == "landing":
        return settings.landing_root
    if layer == "reid":
        return settings.reid_root
    if layer not in LAYERS:
        raise ValueError(f"unknown lake layer {layer!r}; expected one of {sorted(LAYERS)}")
    return join_uri(settings.lake_root, layer)


def join_uri(root: str, *parts: str) -> str:
    """Joins folder names under a local folder or an object-store URI."""
    if "://" in root:
        return "/".join([root.rstrip("/"), *parts])
    return os.path.join(root, *parts)

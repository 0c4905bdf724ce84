"""The resource catalog (目录): departments, resources, data elements and code tables.

Read it with :func:`load_catalog`; the YAML format is documented in `schemas/README.md`.
"""

from __future__ import annotations

from jobs.catalog.loader import (
    CatalogError,
    Problem,
    clear_catalog_cache,
    load_catalog,
    read_catalog,
)
from jobs.catalog.models import (
    Catalog,
    Code,
    CodeTable,
    DataElement,
    Delivery,
    Department,
    Field,
    KeySpec,
    OpenSpec,
    Resource,
    ShareSpec,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "Code",
    "CodeTable",
    "DataElement",
    "Delivery",
    "Department",
    "Field",
    "KeySpec",
    "OpenSpec",
    "Problem",
    "Resource",
    "ShareSpec",
    "clear_catalog_cache",
    "load_catalog",
    "read_catalog",
]

"""The names a deployment sees: DAG ids, Airflow pools and Asset URIs of lake tables.

Plain strings, no Airflow: the task callables name their audit actor with them, and the embedded
Airflow creates its pools with them before Airflow itself may be imported.
"""

from __future__ import annotations

#: Asset URI scheme of lake tables. A logical name, not a path: the same table keeps the same
#: Asset whether the lake root is a local folder or an object store. Airflow 3 accepts any
#: scheme except ``airflow``; it keeps a scheme without a registered normaliser as written.
ASSET_SCHEME = "govlake"


def ingest_dag_id(resource_id: str) -> str:
    """``"gaj.hukou"`` → ``"ingest__gaj__hukou"``."""
    department, resource = split_resource_id(resource_id)
    return f"ingest__{department}__{resource}"


def pool_name(department: str) -> str:
    """The Airflow pool of a department (``dept_gaj``): its jobs share its slots only, so one
    department's backlog cannot starve another department's ingestion."""
    return f"dept_{department}"


def pool_asset_uri(resource_id: str) -> str:
    """``"gaj.hukou"`` → ``"govlake://pool/gaj/hukou"`` (the lake path ``pool/<dept>/<resource>``)."""
    department, resource = split_resource_id(resource_id)
    return f"{ASSET_SCHEME}://pool/{department}/{resource}"


def split_resource_id(resource_id: str) -> tuple[str, str]:
    """``"gaj.hukou"`` → ``("gaj", "hukou")``; ValueError for anything else."""
    department, dot, resource = resource_id.partition(".")
    if not dot or not department or not resource or "." in resource:
        raise ValueError(f"resource id must be '<department>.<resource>', got {resource_id!r}")
    return department, resource

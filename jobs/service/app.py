"""The department service as an ASGI app: :func:`create_app` builds it from settings.

One app serves the JSON API (:mod:`jobs.service.routes.api`) and the pages
(:mod:`jobs.service.routes.pages`). What it knows about accounts and data comes through the
protocols of :mod:`jobs.service.ports`; by default the workflow store and the governed reads
(:mod:`jobs.service.wiring`), in tests whatever the test hands in.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from jobs.service import responses
from jobs.service.deps import Service
from jobs.service.ports import AuditReader, DataAccess, Identity, Shares
from jobs.service.routes import api, pages
from jobs.service.routes import catalog as catalog_routes
from jobs.service.routes import dashboard as dashboard_routes
from jobs.service.routes import demands as demand_routes
from jobs.service.routes import feedback as feedback_routes
from jobs.service.routes import inbox as inbox_routes
from jobs.service.routes import open_requests as open_routes
from jobs.service.routes import shares as share_routes
from jobs.service.routes import verification as verification_routes
from jobs.service.security import load_session_secret
from jobs.settings import Settings

WEB = Path(__file__).parent / "web"


@asynccontextmanager
async def _mail_courier(app: FastAPI) -> AsyncIterator[None]:
    """While the app serves, the mail of its decisions goes out on a courier thread after the
    answer (:func:`jobs.store.mail.courier`), not in the request that made the decision."""
    from jobs.store import mail

    with mail.courier(app.state.service.settings):
        yield


def create_app(
    settings: Settings,
    *,
    identity: Identity | None = None,
    data: DataAccess | None = None,
    shares: Shares | None = None,
    audit: AuditReader | None = None,
) -> FastAPI:
    """The service's app.

    Args:
        identity, data, shares, audit: what answers for accounts, reads, share requests and
            the audit log; by default the store and the lake of ``settings``
            (:mod:`jobs.service.wiring`).

    Raises:
        jobs.secrets.SecretError: in production without a session secret or an audit key (the
            message names the variable); the app is not built.
        jobs.settings.SettingsError: in production on a SQLite store, or a PostgreSQL one
            without a password of its own (GOVLAKE_DB_URL).
    """
    from jobs.audit.log import load_audit_key
    from jobs.service import wiring

    secret = load_session_secret(settings)
    load_audit_key(settings)  # every read is an audit entry: refuse now, not at the first read
    if identity is None or shares is None:
        _ = settings.database_url  # a weak store is refused now, not at the first sign-in
    app = FastAPI(
        title="govlake department service",
        # The interactive docs load scripts from a CDN: none here (the schema is enough).
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_mail_courier,
    )
    app.state.service = Service(
        settings=settings,
        identity=identity or wiring.store_identity(settings),
        data=data or wiring.lake_data(settings),
        shares=shares or wiring.lake_shares(settings),
        audit=audit or wiring.LakeAudit(settings),
        secret=secret,
        templates=Jinja2Templates(directory=WEB),
    )
    responses.install(app)
    app.include_router(api.router)
    app.include_router(share_routes.api_router)
    app.include_router(pages.router)
    app.include_router(share_routes.page_router)
    app.include_router(inbox_routes.api_router)
    app.include_router(inbox_routes.page_router)
    for procedure in (feedback_routes, demand_routes, catalog_routes):
        app.include_router(procedure.api_router)
        app.include_router(procedure.page_router)
    app.include_router(dashboard_routes.api_router)
    app.include_router(dashboard_routes.page_router)
    app.include_router(open_routes.api_router)
    app.include_router(open_routes.public_router)
    app.include_router(open_routes.page_router)
    app.include_router(verification_routes.api_router)
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    return app


def app_from_env() -> FastAPI:
    """The app of the environment's settings, ready to serve (:func:`settle`): what each
    worker process of ``govlake serve --workers N`` builds."""
    configure_logging()
    app = create_app(Settings.from_env())
    settle()
    return app


def configure_logging() -> None:
    """The service's log lines (the access line of :mod:`jobs.service.responses` among them)
    on standard error, in every worker process."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def settle() -> None:
    """Imports what the first read would, then moves every object the process holds so far
    out of the garbage collector's reach (``gc.freeze``), just before it starts serving.

    The service's modules and libraries are a few hundred thousand long-lived objects, and a
    full collection walks all of them: it ran every few seconds under load and stopped every
    request thread for a quarter to half a second each time (a third of the benchmark's
    slowest 1 %). Frozen, a full collection walks only what requests made since.
    """
    # What every read and 核验 imports, so that it is frozen too.
    import jobs.service.reads
    import jobs.service.verify  # noqa: F401

    gc.collect()
    gc.freeze()

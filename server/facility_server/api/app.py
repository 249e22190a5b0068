"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from facility_server.api.errors import BodyLimit, install_handlers
from facility_server.api.routes import (
    admin,
    alerts,
    auth,
    complexes,
    compliance,
    contacts,
    devices,
    people,
    regions,
    satisfaction,
    scorecard,
    spaces,
    utilisation,
    vitals,
    vitals_members,
)
from facility_server.core.db import make_engine, session_factory
from facility_server.core.settings import Settings, get_settings

API_PREFIX = "/api/v1"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> FastAPI:
    """Build the API.

    Args:
        settings: configuration; read from the environment when None.
        engine: an existing engine (tests, the ``run`` command); made from
            ``settings.database_url`` when None. The schema must be migrated already.
        clock: returns the current instant (UTC, tz-aware); injected for tests.
    """
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title="facility-ops server",
        version="0.1.0",
        description="Registry of complexes, spaces, devices and staff; accounts, roles, "
        "device health, safety-task compliance and alerts for Hangzhou community service "
        "complexes (4+5+X); health-kiosk readings with consent (clinicians only).",
    )
    app.state.settings, app.state.engine, app.state.clock = settings, engine, clock
    app.state.sessions = session_factory(engine)
    install_handlers(app)
    api = APIRouter(prefix=API_PREFIX)
    for module in (
        auth,
        regions,
        complexes,
        spaces,
        devices,
        people,
        alerts,
        compliance,
        contacts,
        admin,
    ):
        api.include_router(module.router)
    for module in (utilisation, scorecard, satisfaction):  # issue 6
        api.include_router(module.router)
    for module in (vitals_members, vitals):  # issue 7
        api.include_router(module.router)
    app.include_router(api)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app

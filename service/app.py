"""The FastAPI application factory: everything is built from the settings given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from papersift.db import check_schema_current, make_engine, make_sessionmaker
from papersift.settings import Settings
from service.api import browse, index, papers, recommend, search
from service.errors import install_error_handlers, install_security_headers
from service.index_holder import IndexHolder
from service.search.runtime import SearchRuntime
from service.web import feeds, pages


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the app. The lifespan opens the engine (or uses the one given) and refuses an
    outdated schema."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        app.state.engine = engine or make_engine(settings)
        check_schema_current(app.state.engine)
        app.state.sessions = make_sessionmaker(app.state.engine)
        app.state.index = IndexHolder(settings.index_dir, model=settings.model,
                                      reload_seconds=settings.index_reload_seconds)
        app.state.index.start()
        app.state.search = SearchRuntime(settings, app.state.index)
        app.state.search.start()
        try:
            yield
        finally:
            app.state.search.stop()
            app.state.index.stop()
            if owned:
                app.state.engine.dispose()

    app = FastAPI(
        title="papersift",
        version="0.1.0",
        description="Search and recommendations over arXiv listings and conference papers.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(search.router)
    app.include_router(recommend.router)
    app.include_router(browse.router)
    app.include_router(papers.router)
    app.include_router(pages.router)
    app.include_router(feeds.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    install_security_headers(app)
    app.include_router(index.router)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    return app

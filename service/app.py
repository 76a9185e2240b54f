"""The FastAPI application factory: everything is built from the settings given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from papersift.db import check_schema_current, head_revision, make_engine, make_sessionmaker
from papersift.settings import Settings
from service.api import admin, browse, index, llm, me, operations, papers, recommend, search
from service.api import subscriptions as subscriptions_api
from service.errors import install_error_handlers, install_security_headers
from service.limits import BodySizeLimit
from service.index_holder import IndexHolder
from service.metrics import ServiceMetrics
from service.reads import ReadPool
from service.observability import RequestObservation
from service.search.runtime import SearchRuntime
from service.store_sync import start_store_sync
from service.web import account, feeds, pages
from service.web import subscriptions as subscriptions_pages


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the app. The lifespan opens the engine (or uses the one given) and refuses an
    outdated schema."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        app.state.engine = engine or make_engine(settings)
        check_schema_current(app.state.engine)
        app.state.sessions = make_sessionmaker(app.state.engine)
        app.state.reads = ReadPool(app.state.engine.url.render_as_string(hide_password=False))
        app.state.store_sync = start_store_sync(settings)
        app.state.index = IndexHolder(settings.index_dir, model=settings.model,
                                      reload_seconds=settings.index_reload_seconds)
        app.state.index.start()
        app.state.search = SearchRuntime(settings, app.state.index, reads=app.state.reads, db=app.state.engine,
                                         on_timings=app.state.metrics.observe_search)
        app.state.search.start()
        try:
            yield
        finally:
            app.state.search.stop()
            app.state.index.stop()
            if app.state.store_sync is not None:
                app.state.store_sync.stop()
            app.state.reads.close()
            if getattr(app.state, "llm", None) is not None:  # made on first use (service/api/llm.py)
                app.state.llm.close()
            if owned:
                app.state.engine.dispose()

    app = FastAPI(
        title="papersift",
        version="0.1.0",
        description="Search and recommendations over arXiv listings and conference papers.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.schema_head = head_revision()
    app.state.metrics = ServiceMetrics(app.state)
    install_error_handlers(app)
    app.include_router(search.router)
    app.include_router(recommend.router)
    app.include_router(browse.router)
    app.include_router(llm.router)  # before papers: its /papers/{id:path} would take …/faq
    app.include_router(papers.router)
    app.include_router(pages.router)
    app.include_router(account.router)
    app.include_router(me.router)
    app.include_router(feeds.router)
    app.include_router(subscriptions_api.router)
    app.include_router(subscriptions_pages.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    install_security_headers(app)
    app.include_router(index.router)
    app.include_router(admin.router)
    app.include_router(llm.admin_router)
    app.include_router(operations.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestObservation, metrics=app.state.metrics)  # outermost: sees every request
    return app


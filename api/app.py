"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI
from langchain_core.language_models import BaseChatModel

from api.errors import BodySizeLimit, register_error_handlers
from api.metrics import CountResponses
from api.request_id import RequestId, tag_log_records
from api.routers import (
    accounts,
    audit,
    chat,
    concerns,
    days,
    elders,
    events,
    facts,
    family,
    grants,
    health,
    imports,
    memories,
    messages,
    metrics,
    records,
    reminders,
    story,
    web,
    webhooks,
)
from api.security import FailedAuthLimit, FailedAuthThrottle, SecurityHeaders, redact_tokens_in
from api.settings import Settings
from companion.chat import Companion
from companion.llm import LlamaCppChat
from companion.metrics import backlog_registry
from companion.scheduler import Scheduler
from companion.signals import refine_pending
from memory import chatmodel
from memory.db import make_engine
from memory.embed import make_embedder
from memory.extract import BackgroundExtractor
from memory.index import VectorIndex, validate_location
from memory.indexer import BackgroundIndexer
from memory.store import most_common_language

log = logging.getLogger(__name__)

DESCRIPTION = """
智安 (zhian): a patient, warm companion with long-term memory for an elderly person,
a window for their family, and consented story material for creators.

Every endpoint but `/healthz` and `/readyz` needs a token: `Authorization: Bearer <token>`.
Errors are JSON: `{"error": "<code>", "message": "<what to do about it>"}`. An address that sends
too many tokens that do not work (10 a minute by default) is answered 429, with `Retry-After`.
"""


def make_scheduler(settings: Settings, engine: sa.Engine, model: BaseChatModel) -> Scheduler:
    """The scheduler with this server's settings; nightly, it rebuilds each elder's profile,
    summarises their day and writes the family's digests (with the model, unless there is
    none)."""
    from datetime import timedelta

    from companion.digest import nightly_digests
    from memory.access import elder_scope
    from memory.consolidate import build_profile, summarise_day

    writer = model if chatmodel.available(model) else None

    def nightly(session, elder_id, day) -> None:  # type: ignore[no-untyped-def]
        scope = elder_scope(session, elder_id)
        build_profile(session, scope)
        summarise_day(session, scope, day, writer)
        nightly_digests(session, elder_id, day, writer)

    scheduler = Scheduler(
        engine,
        tick_seconds=settings.scheduler_tick_seconds,
        lease_seconds=settings.scheduler_lease_seconds,
        grace=timedelta(minutes=settings.reminder_grace_minutes),
        smtp=settings.smtp,
        nightly=nightly,
    )
    scheduler.sender.allow_private = settings.webhook_allow_private
    return scheduler


def create_app(settings: Settings | None = None, *, engine: sa.Engine | None = None) -> FastAPI:
    """Build the app; the schema must already be current (`zhian serve` and `zhian db upgrade`
    see to that)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        indexer = None
        if settings.index_in_background:
            indexer = BackgroundIndexer(app.state.engine, app.state.vector_index)
            indexer.start()
        app.state.indexer = indexer
        extractor = None
        if settings.extract_in_background:
            # With no model the rules still read facts; the second look needs the model.
            model = app.state.companion.model
            extractor = (
                BackgroundExtractor(app.state.engine, None)
                if not chatmodel.available(model)
                else BackgroundExtractor(
                    app.state.engine, model, also=lambda: refine_pending(app.state.engine, model)
                )
            )
            extractor.start()
        if settings.llm_warm_up and isinstance(app.state.companion.model, LlamaCppChat):
            threading.Thread(
                target=lambda: app.state.companion.warm_up(most_common_language(app.state.engine)),
                daemon=True,
                name="warm-up",
            ).start()
        scheduler = None
        if settings.scheduler_in_process:
            scheduler = make_scheduler(settings, app.state.engine, app.state.companion.model)
            scheduler.start()
        app.state.scheduler = scheduler
        yield
        if scheduler is not None:
            scheduler.stop()
        if indexer is not None:
            indexer.stop()
        if extractor is not None:
            extractor.stop()
        if engine is None:
            app.state.engine.dispose()

    app = FastAPI(
        title="智安 zhian",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.resolved_database_url)
    app.state.vector_index = VectorIndex(
        validate_location(settings.vector_index),
        make_embedder(settings.embedder, settings.embedder_model),
        data_dir=settings.data_dir,
    )
    app.state.companion = Companion(
        app.state.engine,
        app.state.vector_index,
        settings.chat_model(),
    )
    app.state.companion.alert_by_email = settings.smtp is not None
    app.state.indexer = None
    app.state.metrics_registry = backlog_registry(app.state.engine)
    register_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(
        FailedAuthThrottle,
        limit=FailedAuthLimit(
            allowed=settings.auth_failures_allowed,
            window_seconds=settings.auth_failure_window_seconds,
        ),
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(CountResponses)
    app.add_middleware(RequestId)  # outermost: every answer, 413s and 429s too, carries its id
    tag_log_records()
    redact_tokens_in()
    for module in (
        health,
        metrics,
        elders,
        accounts,
        grants,
        messages,
        imports,
        memories,
        facts,
        chat,
        reminders,
        days,
        webhooks,
        concerns,
        events,
        family,
        story,
        records,
        audit,
        web,
    ):
        app.include_router(module.router)
    return app

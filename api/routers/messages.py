"""Messages: the verbatim record of what was said, one at a time or imported in batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response, status

from api.deps import CurrentCaller, SessionDep
from api.schemas import (
    ImportSummary,
    MessageCreate,
    MessageImport,
    MessagePage,
    MessagePublic,
    Moment,
)
from companion.signals import observe
from memory import store
from memory.access import resolve_scope
from memory.models import Message, Permission

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["messages"])

MessageId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def message_public(message: Message) -> MessagePublic:
    return MessagePublic.model_validate(message, from_attributes=True)


def _index_soon(request: Request, background: BackgroundTasks) -> None:
    """After the response (so after the commit), nudge the background indexer."""
    indexer = request.app.state.indexer
    if indexer is not None:
        background.add_task(indexer.wake)


def _draft(body: MessageCreate) -> store.MessageDraft:
    return store.MessageDraft(**body.model_dump())


@router.post(
    "/messages",
    response_model=MessagePublic,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Already stored (same external_id).", "model": MessagePublic}},
)
def add_message(
    elder_id: str,
    body: MessageCreate,
    caller: CurrentCaller,
    session: SessionDep,
    response: Response,
    request: Request,
    background: BackgroundTasks,
) -> MessagePublic:
    """Store one message. With an `external_id` already stored, answers 200 with that message."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_write)
    message, created = store.add_message(session, scope, _draft(body))
    if created:
        observe(session, message, email=request.app.state.settings.smtp is not None)
    _index_soon(request, background)
    if not created:
        response.status_code = status.HTTP_200_OK
    return message_public(message)


@router.post("/messages:import", response_model=ImportSummary)
def import_messages(
    elder_id: str,
    body: MessageImport,
    caller: CurrentCaller,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> ImportSummary:
    """Import up to 10,000 messages at once, all or nothing; repeats (same `external_id`) are skipped."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_write)
    result = store.import_messages(session, scope, [_draft(m) for m in body.messages])
    email = request.app.state.settings.smtp is not None
    for message in result.created:  # history gets a mood; only the last day raises concerns
        observe(session, message, email=email)
    _index_soon(request, background)
    return ImportSummary(
        imported=len(result.created),
        skipped=len(result.skipped_external_ids),
        ids=[m.id for m in result.created],
        skipped_external_ids=result.skipped_external_ids,
    )


@router.get("/messages", response_model=MessagePage)
def list_messages(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    since: Annotated[Moment | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[Moment | None, Query(description="Before this time.")] = None,
    conversation_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MessagePage:
    """Messages in the order they were said, oldest first, a page at a time."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    page = store.list_messages(
        session,
        scope,
        since=since,
        until=until,
        conversation_id=conversation_id,
        cursor=cursor,
        limit=limit,
    )
    return MessagePage(items=[message_public(m) for m in page.items], next=page.next_cursor)


@router.get("/messages/{message_id}", response_model=MessagePublic)
def get_message(
    elder_id: str, message_id: MessageId, caller: CurrentCaller, session: SessionDep
) -> MessagePublic:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    return message_public(store.get_message(session, scope, message_id))


@router.delete("/messages/{message_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_message(
    elder_id: str, message_id: MessageId, caller: CurrentCaller, session: SessionDep
) -> None:
    """Delete a message, and every memory that came only from it."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_write)
    store.delete_message(session, scope, message_id)

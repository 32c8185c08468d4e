"""Facts about the elder's life, for the family to review: list, add, edit, approve, reject,
delete, see where each came from and how it changed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status

from api.deps import CurrentCaller, SessionDep
from api.routers.messages import message_public
from api.schemas import (
    ExtractionFailure,
    ExtractionStatusPublic,
    FactChange,
    FactCreate,
    FactEventPublic,
    FactPublic,
    FactType,
    FactUpdate,
    MessagePublic,
    Moment,
)
from memory import extract, facts
from memory.access import resolve_scope
from memory.models import FactStatus, Memory, MemoryEvent, Permission
from memory.timeutil import to_utc

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["facts"])

FactId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def fact_public(fact: Memory) -> FactPublic:
    return FactPublic(
        id=fact.id or 0,
        type=fact.kind,
        text=fact.text,
        status=fact.status or FactStatus.confirmed.value,
        subject=fact.subject,
        attribute=fact.attribute,
        value=fact.value,
        said_at=fact.said_at,
        event_time=fact.event_time,
        valid_to=fact.valid_to,
        superseded_by=fact.superseded_by,
        private=fact.private,
        sensitive=fact.sensitive,
        confidence=fact.confidence,
        added_by=fact.author_role,
        language=fact.language,
    )


def _event_public(event: MemoryEvent) -> FactEventPublic:
    return FactEventPublic.model_validate(event, from_attributes=True)


@router.get("/facts", response_model=list[FactPublic])
def list_facts(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    type: Annotated[list[FactType] | None, Query(description="Only these types.")] = None,  # noqa: A002
    status_: Annotated[
        Literal["unconfirmed", "confirmed", "rejected"] | None, Query(alias="status")
    ] = None,
    person: Annotated[str | None, Query(max_length=200, description="Who it is about.")] = None,
    since: Annotated[Moment | None, Query(description="Happened (or said) from then.")] = None,
    until: Annotated[Moment | None, Query(description="Happened (or said) before then.")] = None,
    include_retired: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[FactPublic]:
    """What the companion knows about the elder's life, newest first; private facts only for
    the elder. Reads by anyone but the elder are in the audit log."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    where = facts.FactFilter(
        kinds=type,
        status=status_,
        person=person,
        since=to_utc(since, scope.elder_timezone) if since else None,
        until=to_utc(until, scope.elder_timezone) if until else None,
        include_retired=include_retired,
    )
    return [fact_public(f) for f in facts.list_facts(session, scope, where, limit=limit)]


@router.post("/facts", response_model=FactChange, status_code=status.HTTP_201_CREATED)
def add_fact(
    elder_id: str, body: FactCreate, caller: CurrentCaller, session: SessionDep
) -> FactChange:
    """Add a fact by hand; it is confirmed, and its source is you. The same fact again adds
    nothing; a new value for a one-value slot (lives_in, name, job…) retires the old fact."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_write)
    remembered = facts.add_fact(
        session,
        scope,
        facts.FactDraft(
            kind=body.type,
            text=body.text,
            subject=body.subject or facts.SELF,
            attribute=body.attribute,
            value=body.value,
            event_time=to_utc(body.event_time, scope.elder_timezone) if body.event_time else None,
            private=body.private,
            sensitive=body.sensitive,
        ),
    )
    return FactChange(
        fact=fact_public(remembered.fact),
        action=remembered.action,  # type: ignore[arg-type]
        retired=[fact_public(f) for f in remembered.retired],
    )


@router.get("/facts/{fact_id:int}", response_model=FactPublic)
def get_fact(
    elder_id: str, fact_id: FactId, caller: CurrentCaller, session: SessionDep
) -> FactPublic:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    return fact_public(facts.get_fact(session, scope, fact_id))


@router.patch("/facts/{fact_id:int}", response_model=FactPublic)
def edit_fact(
    elder_id: str, fact_id: FactId, body: FactUpdate, caller: CurrentCaller, session: SessionDep
) -> FactPublic:
    """Correct a fact. A retired or deleted fact cannot be changed (409)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_write)
    changes = body.model_dump(exclude_unset=True)
    if "type" in changes:
        changes["kind"] = changes.pop("type")
    for required in ("kind", "text", "private", "sensitive"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    if changes.get("event_time"):
        changes["event_time"] = to_utc(changes["event_time"], scope.elder_timezone)
    return fact_public(facts.edit_fact(session, scope, fact_id, changes))


@router.post("/facts/{fact_id}:approve", response_model=FactPublic)
def approve_fact(
    elder_id: str, fact_id: FactId, caller: CurrentCaller, session: SessionDep
) -> FactPublic:
    """Confirm a fact the companion inferred."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_write)
    return fact_public(facts.approve_fact(session, scope, fact_id))


@router.post("/facts/{fact_id}:reject", response_model=FactPublic)
def reject_fact(
    elder_id: str, fact_id: FactId, caller: CurrentCaller, session: SessionDep
) -> FactPublic:
    """Mark a fact wrong: the companion never uses it again."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_write)
    return fact_public(facts.reject_fact(session, scope, fact_id))


@router.delete("/facts/{fact_id:int}", status_code=status.HTTP_204_NO_CONTENT)
def delete_fact(elder_id: str, fact_id: FactId, caller: CurrentCaller, session: SessionDep) -> None:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_write)
    facts.delete_fact(session, scope, fact_id)


@router.get("/facts/{fact_id}/sources", response_model=list[MessagePublic])
def fact_sources(
    elder_id: str, fact_id: FactId, caller: CurrentCaller, session: SessionDep
) -> list[MessagePublic]:
    """The messages the fact came from: the elder's own words, with their dates."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    return [message_public(m) for m in facts.fact_sources(session, scope, fact_id)]


@router.get("/extraction-status", response_model=ExtractionStatusPublic)
def extraction_status(
    elder_id: str, caller: CurrentCaller, session: SessionDep
) -> ExtractionStatusPublic:
    """How fact extraction is going for this elder, failures included (never hidden)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    status_ = extract.extraction_status(session, scope)
    return ExtractionStatusPublic(
        pending=status_.pending,
        ok=status_.ok,
        failed=status_.failed,
        failures=[
            ExtractionFailure(
                at=r.started_at, message_ids=r.message_ids, attempts=r.attempts, error=r.error
            )
            for r in status_.failures
        ],
    )


@router.get("/memories/{memory_id}/history", response_model=list[FactEventPublic])
def memory_history(
    elder_id: str, memory_id: FactId, caller: CurrentCaller, session: SessionDep
) -> list[FactEventPublic]:
    """Every change to a fact: what, by whom (the companion, the elder, which family member),
    when, before and after."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    return [_event_public(e) for e in facts.fact_history(session, scope, memory_id)]

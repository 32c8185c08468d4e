"""Erasing an elder's whole record, or one account: every row and vector gone, the database
file compacted so that no word of theirs stays on disk, one audit record kept without them.

The tables to empty are found from the models (every table with an `elder_id`, and every
table that points at one of those rows), so a table added later is erased with the rest.
"""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from memory.access import Caller, ElderScope
from memory.errors import Conflict, Forbidden, InvalidInput, NotFound
from memory.index import IndexUnavailable, VectorIndex
from memory.models import (
    Account,
    AuditEvent,
    Elder,
    Grant,
    Notification,
    Role,
    StoryExportRun,
    Token,
    Webhook,
)

log = logging.getLogger(__name__)

ELDER_ERASED = "elder.erase"
ACCOUNT_ERASED = "account.erase"


@dataclass
class Erasure:
    """What was erased: rows per table, and the audit record that stays."""

    erased: dict[str, int] = field(default_factory=dict)
    audit_id: int | None = None


def _confirmed(given: str | None, expected: str, what: str) -> None:
    if given is None or not given.strip():
        raise InvalidInput(
            f"Erasing {what} cannot be undone: confirm it by sending "
            f'{{"confirm": "{expected}"}} (the name exactly as it is registered).'
        )
    if given.strip() != expected.strip():
        raise InvalidInput(
            f"The confirmation does not match: send the name exactly as it is registered, "
            f'{{"confirm": "{expected}"}}. Nothing was erased.'
        )


def _owned_rows(table: sa.Table, elder_id: str, seen: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    """A WHERE clause for the rows of `table` that belong to the elder, or None."""
    if table.name == Elder.__tablename__:
        return table.c.id == elder_id
    if "elder_id" in table.c:
        return table.c.elder_id == elder_id
    clauses = []
    for fk in table.foreign_keys:
        parent = fk.column.table
        if parent.name in seen or parent is table:
            continue
        parent_clause = _owned_rows(parent, elder_id, seen | {table.name})
        if parent_clause is not None:
            clauses.append(fk.parent.in_(sa.select(fk.column).where(parent_clause)))
    return sa.or_(*clauses) if clauses else None


def erase_elder(
    session: Session,
    scope: ElderScope,
    *,
    confirm: str | None,
    index: VectorIndex | None,
    data_dir: Path | None = None,
) -> Erasure:
    """Erase every row and vector of this elder (their guardian or an administrator), then
    compact the database so that the words are gone from the file too. Commits."""
    actor = scope.actor
    if not (actor.is_admin or actor.is_guardian):
        raise Forbidden(
            "Only the elder's guardian or an administrator can erase an elder's record."
        )
    elder = session.get(Elder, scope.elder_id)
    if elder is None:
        raise NotFound(f"No elder with id {scope.elder_id}.")
    _confirmed(confirm, elder.display_name, f"{elder.display_name}'s whole record")
    erasure = Erasure()
    for table in reversed(SQLModel.metadata.sorted_tables):
        clause = _owned_rows(table, elder.id)
        if clause is None:
            continue
        count = session.execute(sa.delete(table).where(clause)).rowcount or 0
        if count:
            erasure.erased[table.name] = count
    # Before the commit: when the index cannot be reached, nothing is erased and the caller
    # hears why.
    if index is not None:
        try:
            index.clear(elder.id)
        except IndexUnavailable as exc:
            raise Conflict(
                f"{exc}, so nothing was erased: try again when the memory index is back."
            ) from exc
    erasure.audit_id = _erasure_record(session, actor, ELDER_ERASED, elder.id, erasure.erased)
    session.commit()
    compact(session.get_bind())
    if index is not None:
        try:
            index.clear(elder.id)  # a batch the indexer was writing as the rows went
            _sweep_embedded_index(index, data_dir)
        except (IndexUnavailable, OSError, sqlite3.Error):
            log.warning("Erased elder %s; the memory index could not be tidied now", elder.id)
    log.info("Erased elder %s: %s", elder.id, _counts(erasure.erased))
    return erasure


def erase_account(
    session: Session, caller: Caller, account_id: str, *, confirm: str | None
) -> Erasure:
    """Erase one account (an administrator, or the account itself): its tokens, grants, story
    exports and webhooks. What they said to the elder stays in the elder's record. Commits."""
    account = session.get(Account, account_id)
    if account is None or not (caller.is_admin or caller.account_id == account_id):
        raise NotFound(f"No account with id {account_id}.")
    if account.role == Role.elder.value:
        raise Conflict(
            f"This is the elder's own account: to erase it, erase the elder's whole record "
            f"(DELETE /v1/elders/{account.elder_id})."
        )
    if account.role == Role.admin.value and _admins(session) <= 1:
        raise Conflict(
            "This is the only administrator account: make another one first "
            "('zhian admin create-token --role admin --name NAME'), so someone can still run "
            "the service."
        )
    _confirmed(confirm, account.display_name, f"the account {account.display_name}")
    erased: dict[str, int] = {}

    def gone(model: type[SQLModel], clause) -> None:  # type: ignore[no-untyped-def]
        count = session.execute(sa.delete(model).where(clause)).rowcount or 0
        if count:
            erased[model.__tablename__] = count  # type: ignore[attr-defined]

    webhook_ids = [
        str(i) for i in session.exec(select(Webhook.id).where(Webhook.created_by == account_id))
    ]
    targets = webhook_ids + ([account.email] if account.email else [])
    if targets and account.elder_id:
        gone(
            Notification,
            sa.and_(Notification.elder_id == account.elder_id, Notification.target.in_(targets)),  # type: ignore[attr-defined]
        )
    gone(Webhook, Webhook.created_by == account_id)
    gone(StoryExportRun, StoryExportRun.account_id == account_id)
    gone(Grant, Grant.account_id == account_id)
    gone(Token, Token.account_id == account_id)
    gone(Account, Account.id == account_id)
    audit_id = _erasure_record(session, caller, ACCOUNT_ERASED, account.elder_id, erased)
    session.commit()
    compact(session.get_bind())
    log.info("Erased account %s: %s", account_id, _counts(erased))
    return Erasure(erased=erased, audit_id=audit_id)


def _admins(session: Session) -> int:
    return len(list(session.exec(select(Account.id).where(Account.role == Role.admin.value))))


def _erasure_record(
    session: Session, actor: Caller, action: str, elder_id: str | None, erased: dict[str, int]
) -> int | None:
    # Names stay out: a guardian's is often the elder's own ("林美華's daughter").
    role = "guardian" if actor.is_guardian else actor.role.value
    event = AuditEvent(
        actor_account_id=actor.account_id,
        actor_role=actor.role.value,
        actor_name=role,
        action=action,
        elder_id=elder_id,
        detail={"erased": erased},
    )
    session.add(event)
    session.flush()
    return event.id


def _counts(erased: dict[str, int]) -> str:
    return ", ".join(f"{n} {table}" for table, n in sorted(erased.items())) or "nothing"


def compact(engine: sa.Engine) -> None:
    """On SQLite, rewrite the database file so deleted rows leave no bytes behind: the
    full-text index merged, VACUUM, and the write-ahead log emptied. PostgreSQL's deleted rows
    are out of every query at once; its own VACUUM reuses their space."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        has_fts = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'memories_fts'"
        ).first()
        if has_fts:
            conn.exec_driver_sql("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
        conn.exec_driver_sql("VACUUM")
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


_SEGMENT_DIR = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _sweep_embedded_index(index: VectorIndex, data_dir: Path | None) -> None:
    """Chroma drops a deleted collection from its catalogue but leaves its vector files and
    the freed pages of its database: remove the folders no segment names, then VACUUM."""
    if index.location != "embedded" or data_dir is None:
        return
    folder = data_dir / "chroma"
    catalogue = folder / "chroma.sqlite3"
    if not catalogue.exists():
        return
    conn = sqlite3.connect(catalogue, timeout=30)
    try:
        live = {row[0] for row in conn.execute("SELECT id FROM segments")}
        for path in folder.iterdir():
            if path.is_dir() and _SEGMENT_DIR.match(path.name) and path.name not in live:
                shutil.rmtree(path, ignore_errors=True)
        conn.execute("VACUUM")
    finally:
        conn.close()

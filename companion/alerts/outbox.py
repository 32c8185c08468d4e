"""Telling the family: webhooks (signed, retried with backoff) and e-mail (when SMTP is set
up), through an outbox in the database so that nothing is lost when a call fails or the
service restarts.

Every webhook call carries:
    X-Zhian-Event: reminder.missed, concern.raised, ...
    X-Zhian-Delivery: the notification id (the same on every retry: use it to skip repeats)
    X-Zhian-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import smtplib
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx
import sqlalchemy as sa
from sqlmodel import Session, select

from memory.access import ElderScope, caller_for, granted_permissions, record
from memory.db import session_scope
from memory.errors import InvalidInput, NotFound
from memory.models import (
    Account,
    Notification,
    NotificationChannel,
    Permission,
    Role,
    Webhook,
    utcnow,
)

log = logging.getLogger(__name__)

EVENTS = ("reminder.missed", "concern.raised")
MAX_ATTEMPTS = 10
_FIRST_RETRY = timedelta(seconds=30)
_LONGEST_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    sender: str = "zhian@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = True


# --- webhooks the family sets up ------------------------------------------------------------


_ALLOW_PRIVATE = "ZHIAN_WEBHOOK_ALLOW_PRIVATE=true"


def _not_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a webhook may not call `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return None
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address (where cloud servers keep their metadata)"
    if address.is_unspecified:
        return "no address anything can be sent to"
    if address.is_private:
        return "an address of a private network"
    return "not a public internet address"


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses `host` resolves to now (raises OSError when it does not)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in found))


def _resolves_to_private(
    host: str, addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]
) -> str | None:
    for address in addresses:
        if kind := _not_public(address):
            return f"{host} resolves to {address}, {kind}"
    return None


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _refuse_private(parts: SplitResult, *, resolve: bool) -> None:
    """InvalidInput naming why, when the address is not a public one; a name that does not
    resolve (yet) is let through when `resolve` is off or the look-up fails."""
    host = (parts.hostname or "").rstrip(".")
    why = None
    if host == "localhost" or host.endswith(".localhost"):
        why = f"{host} is this machine"
    elif not _is_name(host):
        kind = _not_public(ipaddress.ip_address(host))
        why = kind and f"{host} is {kind}"
    elif resolve:
        try:
            found = _addresses(host, _port(parts))
        except (OSError, UnicodeError, ValueError):  # checked again when it is sent
            found = []
        why = _resolves_to_private(host, found)
    if why:
        raise InvalidInput(
            f"A webhook must go to a public internet address, and {why}; the operator can allow "
            f"private addresses with {_ALLOW_PRIVATE}."
        )


def _check_url(url: str, *, allow_private: bool) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"'{url}' is not a web address; give one such as https://example.org/hook "
            "(http or https)."
        )
    try:
        parts.port  # noqa: B018 - raises ValueError when the port is not a number
    except ValueError:
        raise InvalidInput(f"The port in '{url}' is not a number from 0 to 65535.") from None
    if not allow_private:
        _refuse_private(parts, resolve=True)
    return url.strip()


def add_webhook(
    session: Session,
    scope: ElderScope,
    url: str,
    events: list[str] | None,
    *,
    allow_private: bool = False,
) -> Webhook:
    """A new webhook for the elder; unless `allow_private`, only to a public address."""
    chosen = list(events or EVENTS)
    unknown = sorted(set(chosen) - set(EVENTS))
    if unknown:
        raise InvalidInput(f"Unknown event {', '.join(unknown)}: choose from {', '.join(EVENTS)}.")
    webhook = Webhook(
        elder_id=scope.elder_id,
        url=_check_url(url, allow_private=allow_private),
        secret=secrets.token_hex(24),
        events=chosen,
        created_by=scope.actor.account_id,
    )
    session.add(webhook)
    session.flush()
    record(
        session,
        actor=scope.actor,
        action="webhook.create",
        elder_id=scope.elder_id,
        detail={"webhook_id": webhook.id},
    )
    return webhook


def list_webhooks(session: Session, scope: ElderScope) -> list[Webhook]:
    return list(
        session.exec(
            select(Webhook)
            .where(Webhook.elder_id == scope.elder_id, Webhook.active)
            .order_by(Webhook.id)
        )
    )


def remove_webhook(session: Session, scope: ElderScope, webhook_id: int) -> None:
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or webhook.elder_id != scope.elder_id or not webhook.active:
        raise NotFound(f"No webhook {webhook_id} for this elder.")
    webhook.active = False
    session.add(webhook)
    record(
        session,
        actor=scope.actor,
        action="webhook.delete",
        elder_id=scope.elder_id,
        detail={"webhook_id": webhook_id},
    )


# --- the outbox ------------------------------------------------------------------------------


def notify_family(
    session: Session,
    elder_id: str,
    event: str,
    payload: dict,
    *,
    email: bool,
    not_before: datetime | None = None,
) -> int:
    """Queue `event` for every webhook of the elder that wants it and, when `email`, for every
    family member with an e-mail address who may read reminders. Returns how many were queued."""
    body = {"event": event, "elder_id": elder_id, "at": utcnow().isoformat(), **payload}
    when = {"next_attempt_at": not_before} if not_before else {}
    queued = 0
    for webhook in session.exec(
        select(Webhook).where(Webhook.elder_id == elder_id, Webhook.active)
    ):
        if event in webhook.events:
            session.add(
                Notification(
                    elder_id=elder_id,
                    channel=NotificationChannel.webhook.value,
                    target=str(webhook.id),
                    event=event,
                    payload=body,
                    **when,
                )
            )
            queued += 1
    if email:
        family = session.exec(
            select(Account).where(
                Account.elder_id == elder_id,
                Account.role == Role.family.value,
                Account.email.is_not(None),  # type: ignore[union-attr]
            )
        )
        for account in family:
            if Permission.reminders_read.value in granted_permissions(
                session, caller_for(account), elder_id
            ):
                session.add(
                    Notification(
                        elder_id=elder_id,
                        channel=NotificationChannel.email.value,
                        target=account.email or "",
                        event=event,
                        payload=body,
                        **when,
                    )
                )
                queued += 1
    return queued


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _backoff(attempts: int) -> timedelta:
    return min(_FIRST_RETRY * 2 ** (attempts - 1), _LONGEST_WAIT)


def _pinned(url: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL with its host replaced by the public address it resolves to now, with the Host
    header (and, for https, the name the certificate must carry): the address checked is the
    address called, so a name that changes its answer (DNS rebinding) cannot reach a private
    one. Raises _GiveUp when the address is not public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    _refuse_private_now(parts)
    addresses = _addresses(host, _port(parts))
    if why := _resolves_to_private(host, addresses):
        raise _GiveUp(
            f"not sent: {why}; webhooks go to public addresses only (the operator can allow "
            f"private ones with {_ALLOW_PRIVATE})"
        )
    address = addresses[0]
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    headers = {"Host": parts.netloc.rpartition("@")[2]}
    is_name = _is_name(host)
    extensions = {"sni_hostname": host} if parts.scheme == "https" and is_name else {}
    return pinned, headers, extensions


def _is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def _refuse_private_now(parts: SplitResult) -> None:
    try:
        _refuse_private(parts, resolve=False)
    except InvalidInput as refused:
        raise _GiveUp(f"not sent: {refused.message}") from None


class Sender:
    """Sends what the outbox holds; one per scheduler. Webhooks go to public addresses only,
    checked again as each is sent, unless `allow_private`."""

    allow_private: bool = False

    def __init__(
        self,
        smtp: SmtpSettings | None = None,
        *,
        timeout: float = 10.0,
        allow_private: bool | None = None,
    ) -> None:
        self.smtp = smtp
        self.http = httpx.Client(timeout=timeout, follow_redirects=False)
        if allow_private is not None:
            self.allow_private = allow_private

    def close(self) -> None:
        self.http.close()

    def _webhook(self, note: Notification, webhook: Webhook | None) -> None:
        if webhook is None or not webhook.active:
            raise _GiveUp("the webhook was removed")
        body = json.dumps(note.payload, ensure_ascii=False, sort_keys=True).encode()
        stamp = int(time.time())
        url, host, extensions = webhook.url, {}, {}
        if not self.allow_private:
            url, host, extensions = _pinned(webhook.url)
        response = self.http.post(
            url,
            content=body,
            headers={
                **host,
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "zhian-webhook/1",
                "X-Zhian-Event": note.event,
                "X-Zhian-Delivery": str(note.id),
                "X-Zhian-Signature": signature(webhook.secret, stamp, body),
            },
            extensions=extensions,
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{webhook.url} answered {response.status_code}")

    def _email(self, note: Notification) -> None:
        if self.smtp is None:
            raise _GiveUp("e-mail is not set up on this server (ZHIAN_SMTP_HOST)")
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = note.target
        message["Subject"] = note.payload.get("subject") or f"智安: {note.event}"
        message.set_content(
            note.payload.get("text") or json.dumps(note.payload, ensure_ascii=False, indent=2)
        )
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=15) as smtp:
            if self.smtp.starttls:
                smtp.starttls()
            if self.smtp.user:
                smtp.login(self.smtp.user, self.smtp.password or "")
            smtp.send_message(message)

    def deliver_due(
        self, engine: sa.Engine, now: datetime | None = None, *, limit: int = 50
    ) -> int:
        """Send what is due, outside any transaction; failures wait longer each time, and after
        MAX_ATTEMPTS give up (kept, with the last error, for the operator). Returns how many
        were delivered."""
        now = now or utcnow()
        with session_scope(engine) as session:
            due = list(
                session.exec(
                    select(Notification)
                    .where(
                        Notification.delivered_at.is_(None),  # type: ignore[union-attr]
                        Notification.gave_up_at.is_(None),  # type: ignore[union-attr]
                        Notification.next_attempt_at <= now,  # type: ignore[operator]
                    )
                    .order_by(Notification.id)
                    .limit(limit)
                )
            )
            hooks = {
                note.id: session.get(Webhook, int(note.target))
                for note in due
                if note.channel == NotificationChannel.webhook
            }
            session.expunge_all()
        sent = 0
        for note in due:
            outcome: dict = {"attempts": note.attempts + 1}
            try:
                if note.channel == NotificationChannel.webhook:
                    self._webhook(note, hooks[note.id])
                else:
                    self._email(note)
            except _GiveUp as stop:
                outcome |= {"gave_up_at": now, "last_error": str(stop)}
            except Exception as exc:  # noqa: BLE001 - any failure is retried later
                outcome["last_error"] = f"{type(exc).__name__}: {exc}"[:1000]
                if outcome["attempts"] >= MAX_ATTEMPTS:
                    outcome["gave_up_at"] = now
                    log.warning(
                        "Gave up telling the family (%s, %s) after %d tries: %s",
                        note.channel,
                        note.event,
                        outcome["attempts"],
                        outcome["last_error"],
                    )
                else:
                    outcome["next_attempt_at"] = now + _backoff(outcome["attempts"])
            else:
                outcome["delivered_at"] = utcnow()
                sent += 1
            with session_scope(engine) as session:
                session.execute(
                    sa.update(Notification).where(Notification.id == note.id).values(**outcome)
                )
        return sent


class _GiveUp(Exception):
    """Retrying cannot help."""

"""Talking with the companion: the native chat endpoint, and an OpenAI-compatible one so that
any OpenAI-style chat app works with the elder's token."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import CurrentCaller, SessionDep
from api.schemas import (
    MAX_CHAT_CHARS,
    MODEL_NAME,
    ChatCompletionRequest,
    ChatReply,
    ChatRequest,
    UsedMemory,
)
from companion.chat import Companion, Reply, Turn
from companion.metrics import observe_turn
from companion.style import StyleGuard
from memory.access import ElderScope, resolve_scope
from memory.errors import Forbidden, InvalidInput, LLMUnavailable, TooLarge
from memory.models import Memory, Permission, Role

router = APIRouter(tags=["chat"])


def _text_of(message: str) -> str:
    text = message.strip()
    if not text:
        raise InvalidInput("The message is empty: say something to 智安.")
    if len(text) > MAX_CHAT_CHARS:
        raise TooLarge(
            f"The message is {len(text)} characters long; send at most {MAX_CHAT_CHARS} at a time."
        )
    if "\x00" in text:
        raise InvalidInput("The message contains a NUL character.")
    return text


def _elder_scope(session: SessionDep, caller: CurrentCaller, elder_id: str) -> ElderScope:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    if not scope.by_elder:
        raise Forbidden(
            "Only the elder talks with their companion, with their own token or link "
            "(an administrator prints it with 'zhian admin elder-link')."
        )
    return scope


def _companion(request: Request) -> Companion:
    return request.app.state.companion


def _start(companion: Companion, turn: Turn) -> tuple[StyleGuard, Iterator[str], list[str]]:
    """Run the model up to its first sentence, so that an unreachable model is a 503 before
    anything is streamed."""
    guard = StyleGuard(turn.voice)
    sentences = companion.sentences(turn, guard)
    first = next(sentences, None)
    return guard, sentences, [] if first is None else [first]


def _keep_reply(
    companion: Companion, scope: ElderScope, turn: Turn, said: list[str], guard: StyleGuard
) -> Reply:
    reply = companion.store_reply(scope, turn, said, guard)
    observe_turn(turn.timings)
    return reply


def _public(turn: Turn, reply: Reply) -> ChatReply:
    used = reply.message.used_memory_ids or []
    by_id: dict[int, Memory] = {h.memory.id: h.memory for h in turn.recalled if h.memory.id}
    sources = {h.memory.id: [m for m, _ in h.sources] for h in turn.recalled}
    return ChatReply(
        reply=reply.text,
        language=turn.voice.language,
        kind=turn.kind,  # type: ignore[arg-type]
        message_id=turn.elder_message.id or 0,
        reply_id=reply.message.id or 0,
        used_memory_ids=used,
        used_memories=[
            UsedMemory(
                id=i,
                text=by_id[i].text,
                said_at=by_id[i].said_at,
                speaker=by_id[i].speaker,
                message_ids=sources.get(i, []),
            )
            for i in used
            if i in by_id
        ],
        degraded=turn.degraded,
        repairs=reply.repairs,
        timings=turn.timings,
    )


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


@router.post("/v1/elders/{elder_id}/chat", response_model=ChatReply)
def chat(
    elder_id: str, body: ChatRequest, caller: CurrentCaller, session: SessionDep, request: Request
) -> Any:
    """The elder says something; 智安 answers in the elder's language, from what it remembers,
    and says which memories it drew on. The elder's words are stored even when the model is
    resting (503)."""
    scope = _elder_scope(session, caller, elder_id)
    companion = _companion(request)
    turn = companion.prepare(
        session, scope, _text_of(body.message), conversation_id=body.conversation_id
    )
    session.commit()  # the elder's words are kept whatever happens next
    guard, sentences, said = _start(companion, turn)
    if not body.stream:
        said.extend(sentences)
        return _public(turn, _keep_reply(companion, scope, turn, said, guard))

    def events() -> Iterator[str]:
        for sentence in said:
            yield _sse("delta", {"text": sentence})
        try:
            for sentence in sentences:
                said.append(sentence)
                yield _sse("delta", {"text": sentence})
        except LLMUnavailable as exc:  # the model stopped half way: keep what was said
            yield _sse("error", {"error": exc.code, "message": exc.message})
        reply = _keep_reply(companion, scope, turn, said, guard)
        yield _sse("done", _public(turn, reply).model_dump(mode="json"))

    return StreamingResponse(events(), media_type="text/event-stream")


# --- OpenAI-compatible --------------------------------------------------------------------


def _last_user_text(body: ChatCompletionRequest) -> str:
    for message in reversed(body.messages):
        if message.role == "user":
            if isinstance(message.content, list):
                return "".join(
                    str(part.get("text", ""))
                    for part in message.content
                    if part.get("type") == "text"
                )
            return message.content or ""
    raise InvalidInput(
        "The messages hold no 'user' message: send what the elder says as role 'user'."
    )


def _completion_chunk(completion_id: str, created: int, delta: dict, finish: str | None) -> str:
    chunk = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_NAME,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


@router.get("/v1/models")
def list_models(caller: CurrentCaller) -> dict:
    """The one model an OpenAI-style client can pick: 'zhian'."""
    return {
        "object": "list",
        "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "zhian"}],
    }


@router.post("/v1/chat/completions")
def chat_completions(
    body: ChatCompletionRequest, caller: CurrentCaller, session: SessionDep, request: Request
) -> Any:
    """OpenAI-compatible chat for any OpenAI-style app, with the elder's token as the API key.
    Only the newest 'user' message is taken: zhian keeps the conversation itself."""
    if caller.elder_id is None or caller.role is not Role.elder:
        raise Forbidden(
            "Use the elder's own token as the API key: this endpoint is the elder's chat."
        )
    scope = _elder_scope(session, caller, caller.elder_id)
    companion = _companion(request)
    turn = companion.prepare(
        session, scope, _text_of(_last_user_text(body)), conversation_id=body.user or "openai"
    )
    session.commit()
    guard, sentences, said = _start(companion, turn)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    separator = "" if turn.voice.language.startswith("zh") else " "

    if not body.stream:
        said.extend(sentences)
        reply = _keep_reply(companion, scope, turn, said, guard)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_NAME,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "zhian": {"used_memory_ids": reply.message.used_memory_ids or [], "kind": turn.kind},
        }

    def chunks() -> Iterator[str]:
        yield _completion_chunk(completion_id, created, {"role": "assistant", "content": ""}, None)
        for i, sentence in enumerate(said):
            text = sentence if i == 0 else separator + sentence
            yield _completion_chunk(completion_id, created, {"content": text}, None)
        try:
            for sentence in sentences:
                said.append(sentence)
                yield _completion_chunk(
                    completion_id, created, {"content": separator + sentence}, None
                )
        except LLMUnavailable as exc:  # the model stopped half way: say so, keep what was said
            yield _completion_chunk(
                completion_id, created, {"content": separator + exc.message}, None
            )
        _keep_reply(companion, scope, turn, said, guard)
        yield _completion_chunk(completion_id, created, {}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")

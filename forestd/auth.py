"""Who is calling: `authorization: Bearer <token>` resolved as Forest does (contract §2).

First match wins: the configured service token (Forest's service-account key, compared in
constant time) → the service account; a personal access token (stored as SHA-256, expiry
honoured) → that user. Anything else is UNAUTHENTICATED. Health, reflection and RefreshToken
(which Forest serves without a token) need none.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import grpc
from sqlalchemy import select, update

from .db.models import PersonalAccessToken, User
from .db.types import utcnow
from .uow import Database

SERVICE_ACCOUNT_ID = "00000000-0000-0000-0000-000000000000"
# Method path prefixes served without a token.
OPEN_PATHS = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.",
    "/forest.v1.UsersService/RefreshToken",
)
# last_used is refreshed at most this often, so reads do not turn into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Actor:
    kind: Literal["user", "service"]
    id: str
    username: str = ""

    @property
    def is_user(self) -> bool:
        return self.kind == "user"


SERVICE_ACCOUNT = Actor(kind="service", id=SERVICE_ACCOUNT_ID, username="service-account")
_current_actor: ContextVar[Actor | None] = ContextVar("forestd_actor", default=None)


def current_actor() -> Actor:
    """The authenticated caller of the RPC being served."""
    actor = _current_actor.get()
    if actor is None:
        raise RuntimeError("no authenticated actor: is the AuthInterceptor installed?")
    return actor


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class TokenResolver:
    def __init__(self, db: Database, service_token: str | None):
        self._db = db
        self._service_hash = hash_token(service_token).encode() if service_token else None

    async def resolve(self, token: str) -> Actor | None:
        if self._service_hash is not None and hmac.compare_digest(
            hash_token(token).encode(), self._service_hash
        ):
            return SERVICE_ACCOUNT
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(PersonalAccessToken, User)
                    .join(User, User.id == PersonalAccessToken.user_id)
                    .where(PersonalAccessToken.token_hash == hash_token(token))
                )
            ).first()
        if row is None:
            return None
        pat, user = row
        now = utcnow()
        if pat.expires_at is not None and pat.expires_at <= now:
            return None
        if pat.last_used is None or now - pat.last_used > LAST_USED_RESOLUTION:
            async with self._db.transaction() as uow:
                await uow.session.execute(
                    update(PersonalAccessToken)
                    .where(PersonalAccessToken.id == pat.id)
                    .values(last_used=now)
                )
        return Actor(kind="user", id=user.id, username=user.username)


def bearer_token(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            return text.removeprefix("Bearer ") if text.startswith("Bearer ") else None
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticate every call (but health and reflection) and expose the actor to handlers."""

    def __init__(self, resolver: TokenResolver):
        self._resolver = resolver

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PATHS):
            return handler
        token = bearer_token(handler_call_details.invocation_metadata)
        actor = await self._resolver.resolve(token) if token else None
        return _with_actor(handler, actor)


def _with_actor(handler: grpc.RpcMethodHandler, actor: Actor | None) -> grpc.RpcMethodHandler:
    """Wrap the handler so it runs with the actor set, or aborts UNAUTHENTICATED."""

    async def _deny(context: grpc.aio.ServicerContext) -> None:
        await context.abort(
            grpc.StatusCode.UNAUTHENTICATED,
            "missing or unknown token: send 'authorization: Bearer <token>'",
        )

    if handler.unary_unary is not None:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if actor is None:
                await _deny(context)
            reset = _current_actor.set(actor)
            try:
                return await inner_uu(request, context)
            finally:
                _current_actor.reset(reset)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        inner_us = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator:
            if actor is None:
                await _deny(context)
            # No reset: a cancelled stream's generator may be closed later, from another
            # context, where reset() raises. Each RPC runs in its own context anyway.
            _current_actor.set(actor)
            async for item in inner_us(request, context):
                yield item

        return grpc.unary_stream_rpc_method_handler(
            unary_stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    raise NotImplementedError("client-streaming RPCs are not served by forestd")

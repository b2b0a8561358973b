"""Errors that carry a gRPC status, and the decorator that turns them into aborts."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

log = logging.getLogger(__name__)


class ForestError(Exception):
    """A refusal with a status code and a message meant for the caller."""

    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(ForestError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ForestError):
    code = grpc.StatusCode.NOT_FOUND


class PermissionDenied(ForestError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ForestError):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(ForestError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class AlreadyExists(ForestError):
    code = grpc.StatusCode.ALREADY_EXISTS


class Unimplemented(ForestError):
    code = grpc.StatusCode.UNIMPLEMENTED


def parse_uuid(value: str, field: str) -> str:
    """The canonical text of a UUID, or INVALID_ARGUMENT naming the field (Forest says INTERNAL)."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument(f"{field} must be a UUID, got {value!r}") from None


def bounded(value: str, field: str, limit: int) -> str:
    """value, or INVALID_ARGUMENT when it is longer than its column or limit allows."""
    if len(value) > limit:
        raise InvalidArgument(f"{field} is too long: {len(value)} characters, at most {limit}")
    return value


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def rpc(method: Handler) -> Handler:
    """Map ForestError to its status; anything else is logged and answered INTERNAL."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except ForestError as exc:
            await context.abort(exc.code, exc.message)
        except grpc.aio.AbortError:
            raise
        except Exception:
            log.exception("unhandled error in %s", method.__qualname__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return wrapper  # type: ignore[return-value]

"""ForestError: every failure of a Forest call, as one exception with a gRPC status.

The client never lets a raw `grpc.aio.AioRpcError` (or grpc's UsageError on a closed channel)
escape: callers branch on `code` and `unreachable`, and show `str(error)` to people.
"""

from __future__ import annotations

import grpc

# Codes after which "try again later" is the right advice: the request did not get an answer.
UNREACHABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})

_SUMMARIES: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.UNAVAILABLE: "Forest is unreachable",
    grpc.StatusCode.DEADLINE_EXCEEDED: "Forest is unreachable",
    grpc.StatusCode.UNAUTHENTICATED: "Forest did not accept the token",
    grpc.StatusCode.PERMISSION_DENIED: "Forest refused the request",
    grpc.StatusCode.NOT_FOUND: "Forest does not know it",
    grpc.StatusCode.ALREADY_EXISTS: "it already exists in Forest",
    grpc.StatusCode.FAILED_PRECONDITION: "Forest refused it in the current state",
    grpc.StatusCode.INVALID_ARGUMENT: "Forest rejected the request as invalid",
    grpc.StatusCode.UNIMPLEMENTED: "this Forest does not offer that call",
    grpc.StatusCode.CANCELLED: "the call to Forest was cancelled",
}
_CLOSED = "the client's channel to Forest is closed"


class ForestError(Exception):
    """A Forest call that failed: `code` and `details` as gRPC reported them.

    `str(error)` is one line for a person, e.g.
    "Forest is unreachable (UNAVAILABLE: failed to connect to all addresses)".
    For a write (a vote, a plan decision), DEADLINE_EXCEEDED means the outcome is unknown:
    Forest may have applied it after the client stopped waiting.
    """

    code: grpc.StatusCode
    details: str

    def __init__(
        self, code: grpc.StatusCode, details: str, *, channel_closed: bool = False
    ) -> None:
        self.code = code
        self.details = " ".join(details.split())  # one line, whatever the server sent
        self.channel_closed = channel_closed
        super().__init__(self._message())

    @property
    def unreachable(self) -> bool:
        """No answer from Forest: UNAVAILABLE, DEADLINE_EXCEEDED or the channel closed."""
        return self.code in UNREACHABLE_CODES or self.channel_closed

    def _message(self) -> str:
        summary = "Forest is unreachable" if self.channel_closed else None
        summary = summary or _SUMMARIES.get(self.code, "Forest answered with an error")
        details = f": {self.details}" if self.details else ""
        return f"{summary} ({self.code.name}{details})"

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError, *, closing: bool = False) -> ForestError:
        """The ForestError for a failed call; `closing`: our own close() cut it off."""
        return cls(error.code(), error.details() or "", channel_closed=closing)

    @classmethod
    def closed(cls) -> ForestError:
        """A call attempted after the client (or its channel) was closed."""
        return cls(grpc.StatusCode.UNAVAILABLE, _CLOSED, channel_closed=True)

"""ForestClient: the bot's calls to Forest over one grpc.aio channel.

- Reads (intents, policies, artifacts, plans, roles, events) use the bot's service token.
- Votes and plan decisions use the clicking user's own token, always: Forest accepts votes
  only from users (contract §3) and the bot must never act for someone with its own key.
- Every unary call carries `authorization: Bearer <token>` and a deadline (`read_timeout`
  or `write_timeout`); only the durable event stream has none. Reads are retried on
  UNAVAILABLE by the channel's service config (bot/forest/channel.py), writes never.
- Every failure is a ForestError (bot/forest/errors.py), never a raw grpc error.

No client interceptors on purpose: in grpc.aio a streaming call would silently lose the token
(stack-notes.md "grpc.aio"); each call passes its metadata itself.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from forest.v1 import (
    events_pb2,
    events_pb2_grpc,
    organisations_pb2,
    organisations_pb2_grpc,
    policies_pb2,
    policies_pb2_grpc,
    releases_pb2,
    releases_pb2_grpc,
    users_pb2,
    users_pb2_grpc,
)

from .channel import open_channel, parse_address
from .errors import ForestError

MEMBERS_PAGE_SIZE = 200
# What Forest answers, with INTERNAL, for an unknown project of a known organisation: every
# project-scoped handler does `get_project_id(..).context("resolve project").to_internal_error()`
# and a tonic INTERNAL status carries only the outermost context (srv/grpc/policies.rs).
FOREST_UNKNOWN_PROJECT = "resolve project"

Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ForestUser:
    user_id: str
    username: str


@dataclass(frozen=True, slots=True)
class _Stubs:
    channel: grpc.aio.Channel
    health: health_pb2_grpc.HealthStub
    releases: releases_pb2_grpc.ReleaseServiceStub
    policies: policies_pb2_grpc.PolicyServiceStub
    users: users_pb2_grpc.UsersServiceStub
    organisations: organisations_pb2_grpc.OrganisationServiceStub
    events: events_pb2_grpc.EventServiceStub
    subscriptions: events_pb2_grpc.EventSubscriptionServiceStub

    @classmethod
    def over(cls, channel: grpc.aio.Channel) -> _Stubs:
        return cls(
            channel=channel,
            health=health_pb2_grpc.HealthStub(channel),
            releases=releases_pb2_grpc.ReleaseServiceStub(channel),
            policies=policies_pb2_grpc.PolicyServiceStub(channel),
            users=users_pb2_grpc.UsersServiceStub(channel),
            organisations=organisations_pb2_grpc.OrganisationServiceStub(channel),
            events=events_pb2_grpc.EventServiceStub(channel),
            subscriptions=events_pb2_grpc.EventSubscriptionServiceStub(channel),
        )


def _bearer(token: str) -> Metadata:
    # gRPC refuses such metadata with an error of its own; say what is wrong instead.
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise ForestError(
            grpc.StatusCode.UNAUTHENTICATED,
            "the token is empty or contains characters a token cannot have",
        )
    return (("authorization", f"Bearer {token}"),)


def _project(organisation: str, project: str) -> releases_pb2.Project:
    return releases_pb2.Project(organisation=organisation, project=project)


class ForestClient:
    """One channel to Forest, created in the event loop that first uses it (or `start()`).

    Use one client per event loop; `close()` is final (later calls raise an unreachable
    ForestError). `address`: `host:port`, `http://host[:port]` or `https://host[:port]` (TLS).
    """

    def __init__(
        self,
        address: str,
        service_token: str,
        *,
        read_timeout: float = 5.0,
        write_timeout: float = 10.0,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        parse_address(address)  # a malformed address fails here, not at the first call
        if not service_token:
            raise ValueError("the Forest service token is empty")
        if read_timeout <= 0 or write_timeout <= 0:
            raise ValueError("read_timeout and write_timeout must be positive")
        if max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")
        self._address = address
        self._service_token = service_token
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._max_message_bytes = max_message_bytes
        self._stubs: _Stubs | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Create the channel now (it connects on the first call)."""
        self._connected()

    async def close(self) -> None:
        """Close the channel; calls in flight end with an unreachable ForestError."""
        self._closed = True
        stubs, self._stubs = self._stubs, None
        if stubs is not None:
            await stubs.channel.close()

    async def __aenter__(self) -> ForestClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _connected(self) -> _Stubs:
        if self._closed:
            raise ForestError.closed()
        loop = asyncio.get_running_loop()
        if self._stubs is None:
            self._stubs = _Stubs.over(open_channel(self._address, self._max_message_bytes))
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "this ForestClient's channel belongs to another event loop: "
                "create one client per event loop"
            )
        return self._stubs

    async def _unary(
        self, rpc: Callable[..., Awaitable[Any]], request: Any, *, token: str, deadline: float
    ) -> Any:
        metadata = _bearer(token)
        try:
            return await rpc(request, metadata=metadata, timeout=deadline)
        except grpc.aio.AioRpcError as exc:
            raise ForestError.from_rpc_error(exc, closing=self._closed) from exc
        except grpc.aio.UsageError as exc:  # the channel was closed under us
            raise ForestError.closed() from exc
        except asyncio.CancelledError:
            self._raise_if_closed_under_us()
            raise

    def _raise_if_closed_under_us(self) -> None:
        """grpc.aio cancels calls in flight when the channel closes; unless the caller's own
        task is being cancelled, that is our close(), and the caller gets a ForestError."""
        task = asyncio.current_task()
        if self._closed and (task is None or task.cancelling() == 0):
            raise ForestError.closed() from None

    # The token is always explicit: a missing user token must fail, never become the
    # service token (the service account may decide plans and list anyone's tokens).
    async def _read(self, rpc: Callable[..., Awaitable[Any]], request: Any, token: str) -> Any:
        return await self._unary(rpc, request, token=token, deadline=self._read_timeout)

    async def _write(self, rpc: Callable[..., Awaitable[Any]], request: Any, token: str) -> Any:
        return await self._unary(rpc, request, token=token, deadline=self._write_timeout)

    async def _service_read(self, rpc: Callable[..., Awaitable[Any]], request: Any) -> Any:
        return await self._read(rpc, request, self._service_token)

    async def _service_write(self, rpc: Callable[..., Awaitable[Any]], request: Any) -> Any:
        return await self._write(rpc, request, self._service_token)

    # ---- health and reads (service token) -----------------------------------------------

    async def check_health(self) -> None:
        """grpc.health.v1 Check of the whole server; ForestError unless SERVING."""
        stubs = self._connected()
        reply = await self._service_read(
            stubs.health.Check, health_pb2.HealthCheckRequest(service="")
        )
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            raise ForestError(grpc.StatusCode.UNAVAILABLE, f"Forest reports {status}")

    async def intent_states(
        self, organisation: str, project: str | None = None, include_completed: bool = True
    ) -> list[releases_pb2.ReleaseIntentState]:
        """The newest intents (at most 50, newest first) of an organisation or one project."""
        request = releases_pb2.GetReleaseIntentStatesRequest(
            organisation=organisation, include_completed=include_completed
        )
        if project is not None:
            request.project = project
        stubs = self._connected()
        reply = await self._service_read(stubs.releases.GetReleaseIntentStates, request)
        return list(reply.release_intents)

    async def evaluate(
        self,
        organisation: str,
        project: str,
        environment: str,
        intent_id: str,
        *,
        branch: str | None = None,
    ) -> policies_pb2.EvaluatePoliciesResponse:
        """The policies gating `environment` for that intent (its votes included);
        `branch` feeds branch restrictions (Forest does not take it from the intent)."""
        request = policies_pb2.EvaluatePoliciesRequest(
            project=_project(organisation, project),
            target_environment=environment,
            release_intent_id=intent_id,
        )
        if branch is not None:
            request.branch = branch
        stubs = self._connected()
        reply: policies_pb2.EvaluatePoliciesResponse = await self._service_read(
            stubs.policies.EvaluatePolicies, request
        )
        return reply

    async def list_policies(self, organisation: str, project: str) -> list[policies_pb2.Policy]:
        stubs = self._connected()
        reply = await self._service_read(
            stubs.policies.ListPolicies,
            policies_pb2.ListPoliciesRequest(project=_project(organisation, project)),
        )
        return list(reply.policies)

    async def artifacts(self, organisation: str, project: str) -> list[releases_pb2.Artifact]:
        """The project's artifacts (commit, branch, title, who built it in `source.user_id`)."""
        stubs = self._connected()
        reply = await self._service_read(
            stubs.releases.GetArtifactsByProject,
            releases_pb2.GetArtifactsByProjectRequest(project=_project(organisation, project)),
        )
        return list(reply.artifact)

    async def plan_output(
        self, intent_id: str, stage_id: str
    ) -> releases_pb2.GetPlanOutputResponse:
        """A plan stage's output per destination; megabytes are fine (max_message_bytes)."""
        stubs = self._connected()
        reply: releases_pb2.GetPlanOutputResponse = await self._service_read(
            stubs.releases.GetPlanOutput,
            releases_pb2.GetPlanOutputRequest(release_intent_id=intent_id, stage_id=stage_id),
        )
        return reply

    async def project_exists(self, organisation: str, project: str) -> bool:
        """Whether organisation/project exists, read with ListPolicies.

        Our forest.v1 subset has no project look-up, and on Forest every project-scoped read
        answers an unknown project the same way: NOT_FOUND for an unknown organisation,
        INTERNAL "resolve project" for an unknown project in a known one (forestd: NOT_FOUND).
        ListPolicies is the cheapest of them (a few rows, no intents, nothing that can fail
        to convert), so exactly those two answers mean "no"; any other error is raised.
        The one ambiguity left is Forest's database failing between its organisation check
        and its project look-up, which reads as "no such project" too.
        """
        try:
            await self.list_policies(organisation, project)
        except ForestError as exc:
            if exc.code == grpc.StatusCode.NOT_FOUND:
                return False
            if exc.code == grpc.StatusCode.INTERNAL and exc.details == FOREST_UNKNOWN_PROJECT:
                return False
            raise
        return True

    async def organisation_id(self, organisation: str) -> str:
        stubs = self._connected()
        reply = await self._service_read(
            stubs.organisations.GetOrganisation,
            organisations_pb2.GetOrganisationRequest(name=organisation),
        )
        organisation_id: str = reply.organisation.organisation_id
        return organisation_id

    async def role(self, organisation: str, forest_user_id: str) -> str | None:
        """The user's role in the organisation ("admin", "member"), None when not a member.

        GetOrganisation then ListMembers page by page, with the service token (contract §2).
        """
        organisation_id = await self.organisation_id(organisation)
        wanted = forest_user_id.lower()
        page_token = ""
        seen: set[str] = set()
        while True:
            stubs = self._connected()
            reply = await self._service_read(
                stubs.organisations.ListMembers,
                organisations_pb2.ListMembersRequest(
                    organisation_id=organisation_id,
                    page_size=MEMBERS_PAGE_SIZE,
                    page_token=page_token,
                ),
            )
            for member in reply.members:
                if member.user_id.lower() == wanted:
                    role: str = member.role
                    return role or None
            page_token = reply.next_page_token
            if not page_token:
                return None
            if page_token in seen:  # a server bug must not loop forever
                raise ForestError(
                    grpc.StatusCode.INTERNAL, "ListMembers handed out the same page token twice"
                )
            seen.add(page_token)

    # ---- votes and plan decisions (the user's own token, never retried) -----------------

    async def approve(
        self,
        token: str,
        organisation: str,
        project: str,
        intent_id: str,
        environment: str,
        *,
        comment: str | None = None,
        force_bypass: bool = False,
    ) -> policies_pb2.ExternalApprovalState:
        """The token's user approves the intent for the environment; the gate's new state."""
        request = policies_pb2.ExternalApproveReleaseRequest(
            project=_project(organisation, project),
            release_intent_id=intent_id,
            target_environment=environment,
            force_bypass=force_bypass,
        )
        if comment is not None:
            request.comment = comment
        stubs = self._connected()
        reply = await self._write(stubs.policies.ExternalApproveRelease, request, token)
        state: policies_pb2.ExternalApprovalState = reply.state
        return state

    async def reject(
        self,
        token: str,
        organisation: str,
        project: str,
        intent_id: str,
        environment: str,
        *,
        comment: str | None = None,
    ) -> policies_pb2.ExternalApprovalState:
        """The token's user votes against (replacing their approval; it never blocks alone)."""
        request = policies_pb2.ExternalRejectReleaseRequest(
            project=_project(organisation, project),
            release_intent_id=intent_id,
            target_environment=environment,
        )
        if comment is not None:
            request.comment = comment
        stubs = self._connected()
        reply = await self._write(stubs.policies.ExternalRejectRelease, request, token)
        state: policies_pb2.ExternalApprovalState = reply.state
        return state

    async def approve_plan(self, token: str, intent_id: str, stage_id: str) -> None:
        stubs = self._connected()
        await self._write(
            stubs.releases.ApprovePlanStage,
            releases_pb2.ApprovePlanStageRequest(release_intent_id=intent_id, stage_id=stage_id),
            token,
        )

    async def reject_plan(
        self, token: str, intent_id: str, stage_id: str, reason: str | None = None
    ) -> None:
        """Reject a plan (final: the intent fails). Forest drops `reason`; forestd keeps it."""
        request = releases_pb2.RejectPlanStageRequest(
            release_intent_id=intent_id, stage_id=stage_id
        )
        if reason is not None:
            request.reason = reason
        stubs = self._connected()
        await self._write(stubs.releases.RejectPlanStage, request, token)

    # ---- account linking ----------------------------------------------------------------

    async def verify_personal_token(self, token: str, username: str) -> ForestUser:
        """The Forest user `username`, when `token` is theirs (contract §8; not TokenInfo).

        GetUser(username) with the token gives the user id (UNAUTHENTICATED: a wrong or
        expired token; NOT_FOUND: no such user); ListPersonalAccessTokens(that id) with the
        same token succeeds only for the token's own user (PERMISSION_DENIED otherwise).
        The service account may list anyone's tokens, so its key is refused up front: it
        would otherwise "prove" any username.
        """
        if hmac.compare_digest(token.encode(), self._service_token.encode()):
            raise ForestError(
                grpc.StatusCode.PERMISSION_DENIED,
                "that is the bot's service token, not a personal access token",
            )
        stubs = self._connected()
        found = await self._read(
            stubs.users.GetUser, users_pb2.GetUserRequest(username=username), token
        )
        user = ForestUser(user_id=found.user.user_id, username=found.user.username)
        await self._read(
            stubs.users.ListPersonalAccessTokens,
            users_pb2.ListPersonalAccessTokensRequest(user_id=user.user_id),
            token,
        )
        return user

    # ---- EventService durable stream (service token) ------------------------------------

    async def ensure_event_subscription(
        self, organisation: str, name: str, projects: Sequence[str] = ()
    ) -> None:
        """Create the durable subscription `name` (projects: empty = all); an existing one,
        whatever its filters and status, is left as it is."""
        stubs = self._connected()
        try:
            await self._service_write(
                stubs.subscriptions.CreateEventSubscription,
                events_pb2.CreateEventSubscriptionRequest(
                    organisation=organisation, name=name, projects=list(projects)
                ),
            )
        except ForestError as exc:
            if exc.code != grpc.StatusCode.ALREADY_EXISTS:
                raise

    async def durable_events(
        self, organisation: str, name: str
    ) -> AsyncIterator[events_pb2.OrgEvent]:
        """The subscription's events from its stored cursor on, then live, until cancelled.

        No deadline (the stream is meant to stay open); closing the iterator (or cancelling
        the task reading it) cancels the call. The cursor moves only with `ack_events`.
        """
        call: grpc.aio.UnaryStreamCall | None = None
        try:
            stubs = self._connected()
            call = stubs.events.SubscribeDurable(
                events_pb2.SubscribeDurableRequest(
                    organisation=organisation, subscription_name=name
                ),
                metadata=_bearer(self._service_token),
            )
            async for event in call:
                yield event
        except grpc.aio.AioRpcError as exc:
            raise ForestError.from_rpc_error(exc, closing=self._closed) from exc
        except grpc.aio.UsageError as exc:
            raise ForestError.closed() from exc
        except asyncio.CancelledError:
            self._raise_if_closed_under_us()
            raise
        finally:
            if call is not None:
                call.cancel()

    async def ack_events(self, organisation: str, name: str, sequence: int) -> None:
        """Move the subscription's cursor to `sequence` (never backwards)."""
        stubs = self._connected()
        await self._service_write(
            stubs.events.AcknowledgeEvents,
            events_pb2.AcknowledgeEventsRequest(
                organisation=organisation, subscription_name=name, sequence=sequence
            ),
        )

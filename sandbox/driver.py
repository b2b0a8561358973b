"""The interaction driver: what a person does in Slack, sent to the bot as Slack sends it.

`click`, `submit_view`, `close_view`, `command` and `open_home` build the payloads Slack
builds (block_actions, view_submission, view_closed, slash command fields, an app_home_opened
event_callback) with fresh `trigger_id`s and `response_url`s the sandbox honours, deliver them
(signed HTTP or Socket Mode) and then do what Slack does with the bot's ack: a command's answer
becomes an ephemeral, a view submission's `response_action` updates, pushes, clears or shows
errors. `say` posts a message as a person (no request to the bot).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.delivery import Ack, Delivery, HttpDelivery, Kind, Retry, SocketModeDelivery
from sandbox.methods import check_view
from sandbox.respond import apply_response
from sandbox.socket_mode import SocketModeHub
from sandbox.state import Ephemeral, JsonDict, Message, ResponseUrl, User, View, Workspace
from sandbox.webapi import ApiError

# Where Slack puts a picked value in view.state.values, for pickers that are not options.
SELECTED_KEYS = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
}

# Slack redelivers an event the app did not take: at once, after 1 minute, after 5 minutes.
SLACK_EVENT_RETRY_DELAYS = (0.0, 60.0, 300.0)

INTERACTIVE_TYPES = frozenset(
    {"button", "overflow", "static_select", "checkboxes", "radio_buttons", "plain_text_input",
     *SELECTED_KEYS}
)


class DriverError(Exception):
    """The interaction cannot happen (no such button, no delivery configured, ...)."""


class ViewInputError(DriverError):
    """Slack's client would refuse to submit: required inputs are empty."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(f"required inputs missing: {', '.join(errors)}")
        self.errors = errors


@dataclass
class ViewResult:
    """What became of a submitted (or closed) view."""

    ack: Ack
    response_action: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    view: View | None = None  # the view now on top of the user's stack, if any
    closed: bool = False


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _elements(blocks: Iterable[JsonDict]) -> Iterable[tuple[str, JsonDict]]:
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        kind = block.get("type")
        if kind == "actions":
            for element in block.get("elements") or []:
                yield block_id, element
        elif kind == "section" and isinstance(block.get("accessory"), dict):
            yield block_id, block["accessory"]
        elif kind == "input" and isinstance(block.get("element"), dict):
            yield block_id, block["element"]


def _options(element: JsonDict) -> list[JsonDict]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _find_option(element: JsonDict, value: Any) -> JsonDict:
    for option in _options(element):
        if option.get("value") == value:
            return option
    raise DriverError(f"{element.get('action_id')!r} has no option with value {value!r}")


class Driver:
    def __init__(
        self,
        workspace: Callable[[], Workspace],
        base_url: Callable[[], str],
        hub: SocketModeHub,
    ) -> None:
        self._workspace = workspace
        self._base_url = base_url
        self.hub = hub
        self.delivery: Delivery | None = None
        # The latest requests sent and their acks: (kind, payload, ack).
        self.history: deque[tuple[str, JsonDict, Ack]] = deque(maxlen=1000)
        # Events API redeliveries after a failed one (SLACK_EVENT_RETRY_DELAYS is Slack's
        # schedule); none by default, so a test sees exactly one delivery.
        self.event_retry_delays: tuple[float, ...] = ()
        self._retry_tasks: set[asyncio.Task[None]] = set()

    @property
    def ws(self) -> Workspace:
        return self._workspace()

    # -- where requests go --------------------------------------------------------------------

    def use_http(self, url: str, signing_secret: str, *, timeout: float = 3.0) -> None:
        self.delivery = HttpDelivery(url, signing_secret, timeout=timeout)

    def use_socket_mode(self, *, timeout: float = 3.0) -> None:
        self.delivery = SocketModeDelivery(self.hub, timeout=timeout)

    async def close(self) -> None:
        for task in list(self._retry_tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.delivery is not None:
            await self.delivery.close()

    async def settle(self) -> None:
        """Wait for pending event redeliveries."""
        while self._retry_tasks:
            await asyncio.gather(*list(self._retry_tasks), return_exceptions=True)

    async def _deliver(self, kind: Kind, payload: JsonDict, retry: Retry | None = None) -> Ack:
        if self.delivery is None:
            raise DriverError("no delivery configured: use_http(url, secret) or use_socket_mode()")
        ack = await self.delivery.deliver(kind, payload, retry)
        self.history.append((kind, payload, ack))
        return ack

    # -- payload pieces -----------------------------------------------------------------------

    def _user(self, ref: str | User) -> User:
        user = ref if isinstance(ref, User) else self.ws.user(ref)
        if user is None:
            raise DriverError(f"no such user: {ref!r}")
        return user

    def _user_obj(self, user: User) -> JsonDict:
        return {"id": user.id, "username": user.name, "name": user.name,
                "team_id": self.ws.app.team_id}

    def _team(self) -> JsonDict:
        return {"id": self.ws.app.team_id, "domain": self.ws.app.team_domain}

    def _base(self, kind: str, user: User) -> JsonDict:
        return {
            "type": kind,
            "user": self._user_obj(user),
            "api_app_id": self.ws.app.app_id,
            "token": "sandbox-verification-token",
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
        }

    # -- block_actions ------------------------------------------------------------------------

    async def click(
        self,
        user: str | User,
        *,
        action_id: str,
        message: Message | Ephemeral | None = None,
        channel: str | None = None,
        ts: str | None = None,
        view_id: str | None = None,
        block_id: str | None = None,
        value: Any = None,
    ) -> Ack:
        """Click a button (or pick `value` in an overflow / select) as `user`.

        The target is a message (`message`, or `channel` + `ts`; an ephemeral the user sees
        counts) or a view (`view_id`: a modal or the Home tab). A button's `confirm` dialog is
        taken as confirmed. Raises DriverError when the user cannot see such an element.
        """
        person = self._user(user)
        ws = self.ws
        payload = self._base("block_actions", person)
        payload["trigger_id"] = ws.new_trigger(person.id)
        if view_id is not None:
            view = ws.views.get(view_id)
            if view is None or view.user != person.id:
                raise DriverError(f"{person.name} has no open view {view_id!r}")
            blocks = view.body.get("blocks") or []
            payload["container"] = {"type": "view", "view_id": view.id}
            payload["view"] = ws.view_to_api(view)
            payload["state"] = {"values": view.values}
        else:
            target = self._message_target(person, message, channel, ts)
            blocks = target.blocks or []
            payload.update(self._message_context(person, target))
        payload["actions"] = [self._action(blocks, action_id, block_id, value)]
        return await self._deliver("interactive", payload)

    def _message_target(self, person: User, message: Message | Ephemeral | None,
                        channel: str | None, ts: str | None) -> Message | Ephemeral:
        ws = self.ws
        if message is not None:
            channel, ts = message.channel, message.ts
        found = ws.channel(channel or "")
        if found is None or ts is None:
            raise DriverError("click needs a message, or channel and ts")
        if (found.is_private or found.is_im) and person.id not in found.members:
            raise DriverError(f"{person.name} cannot see {found.id}")
        target: Message | Ephemeral | None = ws.message(found.id, ts)
        if target is None:
            eph = ws.ephemeral(found.id, ts)
            target = eph if eph is not None and eph.user == person.id else None
        if target is None:
            raise DriverError(f"{person.name} sees no message {ts} in {found.id}")
        return target

    def _message_context(self, person: User, target: Message | Ephemeral) -> JsonDict:
        ws = self.ws
        channel = ws.channels[target.channel]
        is_ephemeral = isinstance(target, Ephemeral)
        info = ResponseUrl(target.channel, person.id, time.monotonic(), target.ts, is_ephemeral,
                           target.thread_ts)
        context: JsonDict = {
            "container": {"type": "message", "message_ts": target.ts,
                          "channel_id": target.channel, "is_ephemeral": is_ephemeral},
            "channel": {"id": channel.id, "name": channel.name},
            "state": {"values": {}},
            "response_url": ws.new_response_url(self._base_url(), info),
        }
        if isinstance(target, Message):
            context["message"] = ws.message_to_api(target)
        return context

    @staticmethod
    def _action(blocks: list[JsonDict], action_id: str, block_id: str | None, value: Any
                ) -> JsonDict:
        for found_block, element in _elements(blocks):
            if element.get("action_id") != action_id or block_id not in (None, found_block):
                continue
            kind = element.get("type")
            if kind not in INTERACTIVE_TYPES:
                continue
            action: JsonDict = {"action_id": action_id, "block_id": found_block, "type": kind,
                                "action_ts": _action_ts()}
            if kind == "button":
                action["text"] = element.get("text")
                for key in ("value", "style", "url"):
                    if key in element:
                        action[key] = element[key]
            elif kind in ("overflow", "static_select", "radio_buttons"):
                action["selected_option"] = _find_option(element, value)
                if "placeholder" in element:
                    action["placeholder"] = element["placeholder"]
            elif kind == "checkboxes":
                action["selected_options"] = [_find_option(element, v) for v in value or []]
            elif kind in SELECTED_KEYS:
                action[SELECTED_KEYS[kind]] = value
            else:
                action["value"] = value
            return action
        raise DriverError(f"no interactive element with action_id {action_id!r}")

    # -- views --------------------------------------------------------------------------------

    def _view_for(self, person: User, view_id: str | None) -> View:
        view = self.ws.views.get(view_id) if view_id else self.ws.top_view(person.id)
        if view is None or view.user != person.id:
            raise DriverError(f"{person.name} has no open view {view_id or ''}".strip())
        return view

    @staticmethod
    def _state(view: View, values: Mapping[str, Any]) -> tuple[JsonDict, dict[str, str]]:
        """Input values as Slack's view.state.values, and errors for empty required inputs."""
        remaining = dict(values)
        state: JsonDict = {}
        missing: dict[str, str] = {}
        for block in view.body.get("blocks") or []:
            if block.get("type") != "input" or not isinstance(block.get("element"), dict):
                continue
            element = block["element"]
            block_id, action_id = str(block.get("block_id")), str(element.get("action_id"))
            given = None
            for key in (f"{block_id}.{action_id}", action_id, block_id):
                if key in remaining:
                    given = remaining.pop(key)
                    break
            kind = element.get("type")
            entry: JsonDict = {"type": kind}
            if kind in ("static_select", "radio_buttons"):
                entry["selected_option"] = _find_option(element, given) if given else None
            elif kind == "checkboxes":
                entry["selected_options"] = [_find_option(element, v) for v in given or []]
            elif kind in SELECTED_KEYS:
                entry[SELECTED_KEYS[kind]] = given or None
            else:
                entry["value"] = None if given in (None, "") else str(given)
            empty = given in (None, "", [])
            if empty and not block.get("optional"):
                missing[block_id] = "Please complete this required field."
            state.setdefault(block_id, {})[action_id] = entry
        if remaining:
            raise DriverError(f"the view has no inputs named {sorted(remaining)}")
        return state, missing

    async def submit_view(
        self, user: str | User, view_id: str | None = None, values: Mapping[str, Any] | None = None
    ) -> ViewResult:
        """Fill the inputs (keyed by action_id, block_id or "block_id.action_id") and submit.

        Raises ViewInputError, as Slack's client refuses, when a required input is empty.
        """
        person = self._user(user)
        ws = self.ws
        view = self._view_for(person, view_id)
        state, missing = self._state(view, values or {})
        view.values = state
        if missing:
            view.errors = missing
            ws.changed("view", user=person.id, view_id=view.id)
            raise ViewInputError(missing)
        payload = self._base("view_submission", person)
        payload["trigger_id"] = ws.new_trigger(person.id)
        payload["view"] = ws.view_to_api(view)
        payload["response_urls"] = []
        ack = await self._deliver("interactive", payload)
        return self._after_submission(view, ack)

    def _after_submission(self, view: View, ack: Ack) -> ViewResult:
        ws = self.ws
        if not ack.ok:
            view.errors = {"": "We had some trouble connecting. Try again?"}
            ws.changed("view", user=view.user, view_id=view.id)
            return ViewResult(ack, view=view)
        body = ack.body or {}
        action = body.get("response_action")
        try:
            if action == "errors":
                view.errors = {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
                ws.changed("view", user=view.user, view_id=view.id)
                return ViewResult(ack, action, view.errors, view)
            if action == "update":
                ws.replace_view(view, check_view(body.get("view"), kind="modal"))
                return ViewResult(ack, action, view=view)
            if action == "push":
                pushed = ws.open_view(view.user, check_view(body.get("view"), kind="modal"),
                                      push=True)
                return ViewResult(ack, action, view=pushed)
        except ApiError as exc:
            view.errors = {"": f"The app answered with an invalid view ({exc.code})."}
            ws.changed("view", user=view.user, view_id=view.id)
            return ViewResult(Ack(False, body=body, error=exc.code, status=ack.status), action,
                              view=view)
        ws.close_view(view, clear=action == "clear")
        return ViewResult(ack, action, view=ws.top_view(view.user), closed=True)

    async def close_view(self, user: str | User, view_id: str | None = None) -> Ack | None:
        """Close a modal (the X / Cancel button); the bot hears view_closed if it asked to."""
        person = self._user(user)
        view = self._view_for(person, view_id)
        api_view = self.ws.view_to_api(view)
        notify = bool(view.body.get("notify_on_close"))
        cleared = bool(view.body.get("clear_on_close"))
        self.ws.close_view(view)
        if not notify:
            return None
        payload = self._base("view_closed", person)
        payload["view"] = api_view
        payload["is_cleared"] = cleared
        return await self._deliver("interactive", payload)

    # -- slash commands and events ------------------------------------------------------------

    async def command(
        self, user: str | User, text: str = "", *, command: str = "/forest",
        channel: str = "deploys",
    ) -> Ack:
        """Run a slash command; its immediate answer is shown like Slack shows it."""
        person = self._user(user)
        ws = self.ws
        found = ws.channel(channel) or (ws.im_with(person.id) if channel == "dm" else None)
        if found is None:
            raise DriverError(f"no such channel: {channel!r}")
        info = ResponseUrl(found.id, person.id, time.monotonic())
        fields = {
            "token": "sandbox-verification-token",
            "team_id": ws.app.team_id,
            "team_domain": ws.app.team_domain,
            "channel_id": found.id,
            "channel_name": "directmessage" if found.is_im else found.name,
            "user_id": person.id,
            "user_name": person.name,
            "command": command,
            "text": text,
            "api_app_id": ws.app.app_id,
            "is_enterprise_install": "false",
            "response_url": ws.new_response_url(self._base_url(), info),
            "trigger_id": ws.new_trigger(person.id),
        }
        ack = await self._deliver("slash_commands", fields)
        if ack.ok and ack.body:
            try:
                apply_response(ws, info, ack.body)
            except ApiError as exc:
                ack = Ack(False, body=ack.body, error=exc.code, status=ack.status,
                          elapsed=ack.elapsed)
        return ack

    async def open_home(self, user: str | User) -> Ack:
        """The user opens the app's Home tab: an app_home_opened event."""
        person = self._user(user)
        ws = self.ws
        event: JsonDict = {
            "type": "app_home_opened",
            "user": person.id,
            "channel": ws.im_with(person.id).id,
            "tab": "home",
            "event_ts": _action_ts(),
        }
        home = ws.home_view(person.id)
        if home is not None:
            event["view"] = ws.view_to_api(home)
        return await self.send_event(event)

    async def send_event(self, event: JsonDict) -> Ack:
        """Deliver an Events API event_callback wrapping `event`. If the app does not take it
        and `event_retry_delays` is set, it is redelivered in the background with the same
        event_id and X-Slack-Retry-Num / -Reason (`settle()` waits for that)."""
        ws = self.ws
        payload = {
            "token": "sandbox-verification-token",
            "team_id": ws.app.team_id,
            "api_app_id": ws.app.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": ws.new_id("Ev"),
            "event_time": int(time.time()),
            "authorizations": [{
                "enterprise_id": None, "team_id": ws.app.team_id,
                "user_id": ws.app.bot_user_id, "is_bot": True, "is_enterprise_install": False,
            }],
            "is_ext_shared_channel": False,
        }
        ack = await self._deliver("events_api", payload)
        if not ack.ok and self.event_retry_delays:
            task = asyncio.get_running_loop().create_task(self._redeliver(payload, ack))
            self._retry_tasks.add(task)
            task.add_done_callback(self._retry_tasks.discard)
        return ack

    async def _redeliver(self, payload: JsonDict, ack: Ack) -> None:
        for num, delay in enumerate(self.event_retry_delays, start=1):
            await asyncio.sleep(delay)
            error = ack.error or ""
            reason = ("http_timeout" if error == "operation_timeout"
                      else "http_error" if error.startswith("http_") else "connection_failed")
            ack = await self._deliver("events_api", payload, Retry(num, reason))
            if ack.ok:
                return

    def say(self, user: str | User, text: str, *, channel: str = "deploys",
            thread_ts: str | None = None) -> Message:
        """A person posts a message (shown in the UI; the bot gets no event for it)."""
        person = self._user(user)
        found = self.ws.channel(channel)
        if found is None:
            raise DriverError(f"no such channel: {channel!r}")
        return self.ws.post(found.id, person.id, text, thread_ts=thread_ts)

"""Reading a release message the way a person does (its text, its buttons, its thread), and
what Forest lists."""

from __future__ import annotations

import json
from typing import Any

import grpc

from bot.devsystem import DevSystem
from forest.v1 import releases_pb2, releases_pb2_grpc
from sandbox.records import Message
from sandbox.state import Workspace


def shown(message: Message | None) -> str:
    """Everything the message shows, as one string (blocks and fallback text)."""
    if message is None:
        return ""
    return message.text + "\n" + json.dumps(message.blocks or [], ensure_ascii=False)


def buttons(message: Message | None) -> set[str]:
    """The action ids of the message's buttons."""
    found: set[str] = set()
    for block in (message.blocks or []) if message else []:
        if block.get("type") == "actions":
            found |= {e.get("action_id", "") for e in block.get("elements", [])}
        accessory: Any = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("action_id"):
            found.add(accessory["action_id"])
    return found


def release_message(ws: Workspace, channel: str = "deploys") -> Message | None:
    return ws.last_message(channel)


def last_ephemeral(ws: Workspace, user: str) -> str:
    person = ws.user(user)
    assert person is not None
    found = ws.ephemerals_for(person.id)
    return (found[-1].text + json.dumps(found[-1].blocks or [])) if found else ""


def thread_text(ws: Workspace, message: Message) -> str:
    return "\n".join(shown(r) for r in ws.replies(message.channel, message.ts))


async def listed_intents(system: DevSystem, *, include_completed: bool) -> set[str]:
    """The acme/api intents Forest lists now (its newest 50, or its newest 50 live ones)."""
    assert system.forest is not None
    async with grpc.aio.insecure_channel(system.forest.address) as channel:
        response = await releases_pb2_grpc.ReleaseServiceStub(channel).GetReleaseIntentStates(
            releases_pb2.GetReleaseIntentStatesRequest(
                organisation="acme", project="api", include_completed=include_completed
            ),
            metadata=(("authorization", f"Bearer {system.service_token}"),),
            timeout=10,
        )
    return {i.release_intent_id for i in response.release_intents}

"""Tie a Slack user to a Forest account with a personal access token (forest-contract.md §8).

Forest's TokenInfo does not work for personal access tokens, so the pair (username, token) is
checked the way a real Forest allows: GetUser(username) with the token, then
ListPersonalAccessTokens(user id) with the same token, which only its owner may call. Nothing is
stored unless both succeed.
"""

from __future__ import annotations

import grpc

from bot.forest_client import ForestClient, ForestError
from bot.store import Store
from handlers.requests import Actor

_MAX = 500


class LinkRefused(Exception):
    """Shown under the modal's inputs; `field` is "token" or "username"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


async def link_account(
    forest: ForestClient, store: Store, actor: Actor, username: str, token: str
) -> str:
    """Verify and store the link; returns the Forest username. Raises LinkRefused."""
    username, token = username.strip(), token.strip()
    if not username or len(username) > 200:
        raise LinkRefused("username", "Enter your Forest username.")
    if not token or len(token) > _MAX or any(c.isspace() for c in token):
        raise LinkRefused("token", "Paste the whole token, without spaces.")
    try:
        user = await forest.verify_personal_token(token, username)
    except ForestError as exc:
        raise _refusal(exc, username) from exc
    await store.link_user(actor.team_id, actor.user_id, user.user_id, user.username, token)
    return user.username


def _refusal(exc: ForestError, username: str) -> LinkRefused:
    if exc.unreachable:
        return LinkRefused("token", "Forest is unreachable: nothing was linked. Try again soon.")
    if exc.code is grpc.StatusCode.UNAUTHENTICATED:
        return LinkRefused("token", "Forest did not accept this token (wrong, revoked or expired).")
    if exc.code is grpc.StatusCode.PERMISSION_DENIED:
        return LinkRefused("token", f"This token does not belong to Forest user {username[:60]}.")
    if exc.code is grpc.StatusCode.NOT_FOUND:
        return LinkRefused("username", f"Forest has no user named {username[:60]}.")
    return LinkRefused("token", f"Forest refused the token ({exc.code.name}).")

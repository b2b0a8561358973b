"""Which of Forest's documented gaps forestd reproduces (`FORESTD_COMPAT`, `--compat`).

`intended` (the default) is Forest as the seed meant it; `forest` behaves like the real
Forest where it falls short (shared/forest-contract.md §2, §3, §4, §6, §8), so a client tested
against forestd cannot lean on forestd being kinder than Forest. The services ask these rules
instead of testing the mode themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CompatMode = Literal["intended", "forest"]


@dataclass(frozen=True)
class Compat:
    mode: CompatMode
    # force_bypass on one's own release needs the admin role and is recorded as a bypass;
    # otherwise (Forest) it only skips the self-approval check and adds an ordinary vote.
    bypass_needs_admin: bool
    # A vote's intent must belong to the project named in the request; otherwise (Forest) any
    # intent id is accepted and only the policy lookup and membership use that project.
    vote_intent_in_project: bool
    # TokenInfo answers for personal access tokens; otherwise (Forest, which reads JWT claims)
    # it fails INTERNAL "missing claims in request extensions".
    token_info_for_pats: bool
    # Plan decisions keep who decided and the rejection reason, in the stage and its event.
    record_plan_decider: bool
    # Votes write an `approval`/`decided` org event (and nudge forest.events.{org}).
    vote_events: bool

    @classmethod
    def for_mode(cls, mode: CompatMode) -> Compat:
        return FOREST if mode == "forest" else INTENDED


INTENDED = Compat(
    mode="intended",
    bypass_needs_admin=True,
    vote_intent_in_project=True,
    token_info_for_pats=True,
    record_plan_decider=True,
    vote_events=True,
)
FOREST = Compat(
    mode="forest",
    bypass_needs_admin=False,
    vote_intent_in_project=False,
    token_info_for_pats=False,
    record_plan_decider=False,
    vote_events=False,
)

# Forest's TokenInfo error for a token that is not a session JWT (srv/grpc/users.rs).
MISSING_CLAIMS = "missing claims in request extensions"

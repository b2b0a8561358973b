"""What waits for one person: open gates they have not approved, plans awaiting a decision."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from blocks.model import PendingItem, Release, StageKind, Verdict


def _voted_yes(release: Release, environment: str, forest_user_id: str) -> bool:
    gate = release.gate(environment)
    if gate is None:
        return False
    latest = [d for d in gate.decisions if d.voter.forest_user_id == forest_user_id]
    return bool(latest) and latest[-1].verdict in (Verdict.APPROVED, Verdict.BYPASSED)


def pending_for(
    releases: Iterable[Release],
    forest_user_id: str | None,
    permalinks: Mapping[str, str] | None = None,
) -> list[PendingItem]:
    """Items for `/forest pending` and the Home tab, oldest release first.

    Gates: open ones the person may still approve (not the author, no approval yet).
    Plans: every plan awaiting a decision (Forest has no self-check on plans).
    `permalinks` maps intent ids to the release message's permalink.
    """
    links = permalinks or {}
    items: list[PendingItem] = []
    ordered = sorted(
        releases,
        key=lambda r: (r.created_at.timestamp() if r.created_at else 0.0, r.intent_id),
    )
    for release in ordered:
        link = links.get(release.intent_id, "")
        for stage in release.awaiting_plans:
            items.append(
                PendingItem(release, stage.environment, StageKind.PLAN, stage.stage_id, link)
            )
        is_author = (
            forest_user_id is not None
            and release.author is not None
            and release.author.forest_user_id == forest_user_id
        )
        for gate in release.open_gates:
            if is_author:
                continue
            if forest_user_id and _voted_yes(release, gate.environment, forest_user_id):
                continue
            items.append(PendingItem(release, gate.environment, StageKind.DEPLOY, "", link))
    return items

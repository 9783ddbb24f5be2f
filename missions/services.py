"""Scoring: turn entries, video views and transactions into stamps and ledger lines."""

from __future__ import annotations

from collections.abc import Iterable

from campaign.models import Campaign

SCORE_CHUNK = 1000


def members_score(*, campaign: Campaign, member_ids: Iterable[str]) -> None:
    """Re-score the given members set-based (stamps, stamp cards, ledger). Implemented by the scoring work."""


def members_score_later(*, campaign: Campaign, member_ids: Iterable[str]) -> None:
    """Re-score these members after the current transaction commits, in chunks of SCORE_CHUNK."""
    from missions.tasks import members_score_task

    ids = sorted(set(member_ids))
    for start in range(0, len(ids), SCORE_CHUNK):
        members_score_task.delay_on_commit(campaign.pk, ids[start : start + SCORE_CHUNK])

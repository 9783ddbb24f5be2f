"""Scoring: turn entries, video views and transactions into stamps, stamp cards and ledger lines.

The interface other apps call (kept stable; the scoring work implements the bodies):

- ``members_score(*, campaign, member_ids=None, dry_run=False, missions=None) -> ScoreResult``
- ``members_score_later(*, campaign, member_ids)`` — enqueue after commit, in chunks
- ``campaign_rescore_later(*, campaign)`` — a full re-score in the background
- ``progress_document(*, campaign, member_id) -> dict`` — SPEC 3.5
- ``transactions_explained(*, campaign, member_id) -> list[dict]`` — why each transaction counted
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from campaign.models import Campaign

SCORE_CHUNK = 1000


@dataclass
class ScoreResult:
    members_scored: int = 0
    members_changed: int = 0
    stamps_changed: int = 0
    awards: int = 0
    reversals: int = 0
    points_delta: int = 0


def members_score(
    *,
    campaign: Campaign,
    member_ids: Iterable[str] | None = None,
    dry_run: bool = False,
    missions: list | None = None,
) -> ScoreResult:
    """Re-score ``member_ids`` (None: every member with records in the campaign) set-based.

    Writes stamps, stamp cards and ledger lines, idempotently. With ``dry_run`` nothing is
    written and the result says what would change; ``missions`` (unsaved Mission objects)
    replaces the stored rules for that evaluation (the admin's preview of a rule change).
    """
    return ScoreResult()


def members_score_later(*, campaign: Campaign, member_ids: Iterable[str]) -> None:
    """Re-score these members after the current transaction commits, in chunks of SCORE_CHUNK."""
    from missions.tasks import members_score_task

    ids = sorted(set(member_ids))
    for start in range(0, len(ids), SCORE_CHUNK):
        members_score_task.delay_on_commit(campaign.pk, ids[start : start + SCORE_CHUNK])


def campaign_rescore_later(*, campaign: Campaign) -> None:
    """Re-score every member of the campaign in the background."""


def progress_document(*, campaign: Campaign, member_id: str) -> dict:
    """The progress document of SPEC 3.5 for one member (entered or not)."""
    raise NotImplementedError


def transactions_explained(*, campaign: Campaign, member_id: str) -> list[dict]:
    """For each of the member's transactions, newest first: the missions it counted toward, or why none."""
    raise NotImplementedError

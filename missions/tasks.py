"""Celery tasks of the scoring engine: they take ids, call one service, and are safe to run twice."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from django.db import DatabaseError

from campaign.models import Campaign
from missions.services import ScoreResult, members_score


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=60,
)
def members_score_task(campaign_id: int, member_ids: list[str]) -> dict[str, int]:
    """Re-score a chunk of members; returns the counts of its ScoreResult (for a group's caller to add).

    Idempotent: the ledger's unique constraint makes a retry harmless.
    """
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:  # deleted since the task was queued: nothing to score
        return asdict(ScoreResult())
    return asdict(members_score(campaign=campaign, member_ids=member_ids))

"""Celery tasks of the scoring engine: they take ids, call one service, and are safe to run twice."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from campaign.models import Campaign
from campaign.queueing import task_enqueue, task_enqueue_on_commit
from missions.services import SCORE_CHUNK, ScoreResult, members_of_campaign, members_score, scoring_due_oldest


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


def members_score_later(*, campaign: Campaign, member_ids: Iterable[str]) -> None:
    """Re-score these members after the current transaction commits, in chunks of SCORE_CHUNK."""
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), SCORE_CHUNK):
        # Not delay_on_commit: a broker that is down must not turn the caller's stored push into a 500.
        task_enqueue_on_commit(members_score_task, campaign.pk, ids[start : start + SCORE_CHUNK])


def campaign_rescore_later(*, campaign: Campaign) -> None:
    """Re-score every member of the campaign in the background."""
    members_score_later(campaign=campaign, member_ids=members_of_campaign(campaign))


@shared_task(ignore_result=True)
def scoring_due_sweep() -> int:
    """Run by Celery beat: score the members due longer than PORTAL_SCORING_SWEEP_AFTER seconds.

    Their task was lost (the broker was down when it was sent, a worker was killed beyond its
    retries, Redis lost it): the outbox kept them due. A member scored twice changes nothing.
    """
    due = scoring_due_oldest(older_than=settings.PORTAL_SCORING_SWEEP_AFTER)
    for campaign_id, member_ids in due.items():
        for start in range(0, len(member_ids), SCORE_CHUNK):
            task_enqueue(members_score_task, campaign_id, member_ids[start : start + SCORE_CHUNK])
    return sum(len(member_ids) for member_ids in due.values())

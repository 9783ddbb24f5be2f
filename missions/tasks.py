from __future__ import annotations

from celery import shared_task

from campaign.models import Campaign
from missions.services import members_score


@shared_task(acks_late=True, max_retries=5, autoretry_for=(Exception,), retry_backoff=True)
def members_score_task(campaign_id: int, member_ids: list[str]) -> None:
    members_score(campaign=Campaign.objects.get(pk=campaign_id), member_ids=member_ids)

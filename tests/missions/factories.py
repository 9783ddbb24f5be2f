"""Factories and small helpers for scoring tests: records in JST, video views, a scored member."""

from __future__ import annotations

import factory

from campaign.models import Campaign, VideoView
from missions.models import Video
from tests.campaign.factories import EntryFactory, MemberFactory, TransactionFactory, jst

__all__ = ["EntryFactory", "MemberFactory", "TransactionFactory", "VideoViewFactory", "charge", "jst", "pay"]


class VideoViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VideoView

    campaign = factory.LazyFunction(lambda: Campaign.objects.current())
    member = factory.SubFactory(MemberFactory)
    video = factory.LazyAttribute(lambda o: Video.objects.filter(campaign=o.campaign).order_by("order").first())
    watched_at = factory.LazyFunction(lambda: jst("2026-03-10 12:00"))
    received_at = factory.SelfAttribute("watched_at")


def pay(member, when: str, amount: int, *, points_used: int = 0, merchant: str = "SHOP-0001", **kwargs):
    """A payment by ``member`` at ``when`` (JST text)."""
    return TransactionFactory(
        member=member,
        type="payment",
        amount=amount,
        points_used=points_used,
        merchant_code=merchant,
        occurred_at=jst(when),
        **kwargs,
    )


def charge(member, when: str, amount: int, **kwargs):
    return TransactionFactory(
        member=member, type="charge", amount=amount, merchant_code="", occurred_at=jst(when), **kwargs
    )


def cancel(member, when: str, original):
    original_id = original if isinstance(original, str) else original.transaction_id
    return TransactionFactory(
        member=member,
        type="cancel",
        amount=0,
        merchant_code="",
        occurred_at=jst(when),
        original_transaction_id=original_id,
    )

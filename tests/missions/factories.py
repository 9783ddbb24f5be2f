"""Factories and small helpers for scoring tests: records in JST, video views, a scored member."""

from __future__ import annotations

import factory

from campaign.models import Campaign, PointType, VideoView
from missions.models import LedgerKind, LedgerLine, Video
from tests.campaign.factories import EntryFactory, MemberFactory, TransactionFactory, jst

__all__ = [
    "EntryFactory",
    "LedgerLineFactory",
    "MemberFactory",
    "TransactionFactory",
    "VideoViewFactory",
    "cancel",
    "charge",
    "cleared_codes",
    "jst",
    "ledger_balance",
    "pay",
    "score",
    "stamps_of",
]


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


def score(campaign, *members):
    """Re-score these members now (what the tasks do after a commit)."""
    from missions.services import members_score

    return members_score(campaign=campaign, member_ids=[getattr(m, "member_id", m) for m in members])


def stamps_of(member) -> dict:
    """mission code → Stamp of ``member``."""
    from missions.models import Stamp

    return {s.mission.code: s for s in Stamp.objects.filter(member_id=member.member_id).select_related("mission")}


def cleared_codes(member) -> set[str]:
    return {code for code, stamp in stamps_of(member).items() if stamp.cleared}


def ledger_balance(member) -> int:
    from django.db.models import Sum

    from missions.models import LedgerLine

    return LedgerLine.objects.filter(member_id=member.member_id).aggregate(s=Sum("points"))["s"] or 0


class LedgerLineFactory(factory.django.DjangoModelFactory):
    """An award of 200 limited points for ``reward`` (the admin's lists and filters read them)."""

    class Meta:
        model = LedgerLine

    campaign = factory.LazyFunction(lambda: Campaign.objects.current())
    member = factory.SubFactory(MemberFactory)
    reward = "casual-1"
    kind = LedgerKind.AWARD
    points = 200
    point_type = PointType.LIMITED
    reason = factory.SelfAttribute("reward")
    occurred_at = factory.LazyFunction(lambda: jst("2026-03-10 12:00"))

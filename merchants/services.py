"""What a change of the bonus list does to the members' stamps."""

from __future__ import annotations

from collections.abc import Iterable

from campaign import clock
from campaign.models import Campaign, Transaction, TransactionType
from missions.tasks import members_score_later


def bonus_members_rescore(*, codes: Iterable[str]) -> int:
    """Re-score, in each campaign that has started, the members with a payment at one of ``codes``.

    The engine reads the bonus list when it scores a member (R7): a merchant put on the list, taken
    off it or made inactive changes the stamps of those who paid there only once they are scored
    again, as a mission's rule change does for everyone. Returns the number of members re-scored.
    """
    codes = sorted({code for code in codes if code})
    if not codes:
        return 0
    members = 0
    for campaign in Campaign.objects.filter(starts_at__lte=clock.now()):
        payments = Transaction.objects.filter(campaign=campaign, type=TransactionType.PAYMENT, merchant_code__in=codes)
        member_ids = list(payments.values_list("member_id", flat=True).distinct())
        members_score_later(campaign=campaign, member_ids=member_ids)
        members += len(member_ids)
    return members

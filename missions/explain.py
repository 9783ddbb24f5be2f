"""Why each transaction counted: for the stamp card's history and the system API.

Explaining is per page: a page of a member's transactions is judged against the same rules
as the engine (missions/rules.py), with a constant number of queries per page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from campaign.env import JST
from campaign.models import Campaign, Entry, Transaction, TransactionType
from merchants.models import Merchant
from missions.models import MissionKind, Stamp
from missions.progress import iso_jst
from missions.rules import Rule, rules_load


def _messages() -> dict[str, str]:
    return {
        "is_cancel": _("A cancel record: it voids the transaction it names and counts for nothing itself."),
        "cancelled": _("Cancelled: a cancel record voids this transaction, so it counts for nothing."),
        "outside_period": _("Outside the campaign period."),
        "paid_with_points": _("Paid with WESTER points: payments made with points do not count."),
        "zero_amount": _("An amount of 0 yen counts for nothing."),
        "not_entered_yet": _("You have not entered the campaign yet: this will count once you enter."),
        "below_threshold": _("The eligible amount is below the mission's minimum."),
        "outside_window": _("Outside the mission's time of day (Japan time)."),
        "wrong_weekday": _("Not on one of the mission's days of the week (Japan time)."),
        "not_bonus_merchant": _("Not at a merchant of the bonus list."),
        "mission_already_cleared": _("The mission was already cleared by an earlier transaction."),
        "day_already_counted": _("An earlier payment already counted this day."),
    }


def _sort_key(tx: Transaction) -> tuple[datetime, str]:
    return (tx.occurred_at, tx.transaction_id)


class ExplainedTransactions(Sequence):
    """A member's transactions, newest first, explained page by page (``len()`` is one COUNT)."""

    def __init__(self, *, campaign: Campaign, member_id: str) -> None:
        self.campaign = campaign
        self.member_id = member_id
        self.queryset = Transaction.objects.filter(campaign=campaign, member_id=member_id).order_by(
            "-occurred_at", "-transaction_id"
        )
        self._len: int | None = None

    def __len__(self) -> int:
        if self._len is None:
            self._len = self.queryset.count()
        return self._len

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._explain(list(self.queryset[index]))
        if index < 0:
            index += len(self)
        page = self._explain(list(self.queryset[index : index + 1]))
        if not page:
            raise IndexError(index)
        return page[0]

    def __iter__(self):
        return iter(self[:])

    def _explain(self, page: list[Transaction]) -> list[dict]:
        if not page:
            return []
        campaign = self.campaign
        rules = rules_load(campaign=campaign)
        messages = _messages()
        entered = Entry.objects.filter(campaign=campaign, member_id=self.member_id).exists()
        # Every transaction of the JST days the page touches: enough to tell the first payment of a day.
        first_day = min(t.occurred_at for t in page).astimezone(JST).replace(hour=0, minute=0, second=0, microsecond=0)
        last_day = max(t.occurred_at for t in page).astimezone(JST).replace(
            hour=0, minute=0, second=0, microsecond=0
        ) + timedelta(days=1)
        around = list(
            Transaction.objects.filter(
                campaign=campaign, member_id=self.member_id, occurred_at__gte=first_day, occurred_at__lt=last_day
            ).exclude(type=TransactionType.CANCEL)
        )
        ids = {t.transaction_id for t in page} | {t.transaction_id for t in around}
        void = set(
            Transaction.objects.filter(type=TransactionType.CANCEL, original_transaction_id__in=ids).values_list(
                "original_transaction_id", flat=True
            )
        )
        codes = {t.merchant_code for t in page} | {t.merchant_code for t in around}
        bonus = set(Merchant.objects.bonus().filter(code__in=codes).values_list("code", flat=True))
        stamps = {
            s.mission_id: s
            for s in Stamp.objects.filter(campaign=campaign, member_id=self.member_id).select_related(
                "cleared_by_transaction"
            )
        }

        def countable(tx: Transaction) -> bool:
            return (
                tx.type != TransactionType.CANCEL
                and tx.transaction_id not in void
                and campaign.in_period(tx.occurred_at)
                and tx.eligible_amount > 0
            )

        def qualifies(rule: Rule, tx: Transaction) -> str | None:
            return rule.failure(
                type=tx.type, eligible=tx.eligible_amount, occurred_at=tx.occurred_at, bonus=tx.merchant_code in bonus
            )

        return [
            self._one(tx, rules, messages, entered, around, void, bonus, stamps, countable, qualifies) for tx in page
        ]

    def _one(self, tx, rules, messages, entered, around, void, bonus, stamps, countable, qualifies) -> dict:
        reasons: dict[str, list[str]] = {}
        counted: list[str] = []

        def reason(code: str, mission: str | None = None) -> None:
            reasons.setdefault(code, [])
            if mission:
                reasons[code].append(mission)

        if tx.type == TransactionType.CANCEL:
            reason("is_cancel")
        elif tx.transaction_id in void:
            reason("cancelled")
        elif not self.campaign.in_period(tx.occurred_at):
            reason("outside_period")
        elif tx.eligible_amount <= 0:
            reason("paid_with_points" if tx.points_used > 0 else "zero_amount")
        else:
            for rule in rules:
                if not rule.counts_records:
                    continue
                failure = qualifies(rule, tx)
                if failure == "wrong_type":
                    continue
                if failure is not None:
                    reason(failure, rule.code)
                    continue
                if rule.distinct_days:
                    day = tx.occurred_at.astimezone(JST).date()
                    earlier = [
                        o
                        for o in around
                        if countable(o)
                        and _sort_key(o) < _sort_key(tx)
                        and o.occurred_at.astimezone(JST).date() == day
                        and qualifies(rule, o) is None
                    ]
                    if earlier:
                        reason("day_already_counted", rule.code)
                        continue
                stamp = stamps.get(rule.mission_id)
                clearing = stamp.cleared_by_transaction if entered and stamp and stamp.cleared else None
                if clearing is not None and _sort_key(tx) > _sort_key(clearing):
                    reason("mission_already_cleared", rule.code)
                    continue
                counted.append(rule.code)
            # A completion mission counts the transaction that completed it.
            for rule in rules:
                stamp = stamps.get(rule.mission_id)
                if (
                    rule.kind == MissionKind.COMPLETION
                    and entered
                    and stamp
                    and stamp.cleared
                    and stamp.cleared_by_transaction_id == tx.pk
                ):
                    counted.append(rule.code)
        would_count = []
        if not entered and counted:
            would_count, counted = counted, []
            reason("not_entered_yet")
        return {
            "transaction_id": tx.transaction_id,
            "type": tx.type,
            "amount": tx.amount,
            "points_used": tx.points_used,
            "eligible_amount": tx.eligible_amount if tx.type != TransactionType.CANCEL else 0,
            "merchant_code": tx.merchant_code,
            "bonus_merchant": tx.merchant_code in bonus,
            "occurred_at": iso_jst(tx.occurred_at),
            "original_transaction_id": tx.original_transaction_id,
            "cancelled": tx.transaction_id in void,
            "counted_for": counted,
            "would_count_for": would_count,
            "reasons": [
                {"code": code, "message": messages[code], "missions": missions} for code, missions in reasons.items()
            ],
        }

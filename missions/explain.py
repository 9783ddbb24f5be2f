"""Why each transaction counted: for the stamp card's history and the system API.

The reasons come from the scorer's own statement (``missions.evaluate.records_sql``) run for the
member with the explanation columns: the first condition a record fails, whether it added to a
mission's progress, and whether the mission was already cleared before it. No rule is written
twice: what the list says is what the scorer did.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.utils.translation import gettext as _

from campaign.models import Campaign, Entry, Transaction, TransactionType
from merchants.models import Merchant
from missions.evaluate import period_params, records_sql
from missions.kinds import BASE_CHECKS
from missions.models import Stamp
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
        "merchant_already_counted": _("An earlier payment already counted this merchant."),
    }


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
        campaign, member = self.campaign, self.member_id
        rules = [r for r in rules_load(campaign=campaign) if r.counts_records]
        entered = Entry.objects.filter(campaign=campaign, member_id=member).exists()
        params = {**period_params(campaign), "member": member}
        tx = Transaction._meta.db_table
        failed = " ".join(f"WHEN NOT ({check(tx)}) THEN '{reason}'" for reason, check in BASE_CHECKS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.id, CASE {failed} END FROM {tx} t WHERE t.campaign_id = %(campaign)s"
                f" AND t.member_id = %(member)s AND t.id IN ({', '.join(str(int(t.pk)) for t in page)})",
                params,
            )
            base = dict(cursor.fetchall())
            ranked: dict[int, dict] = {}
            if rules:
                cursor.execute(records_sql(rules=rules, members="t.member_id = %(member)s", explain=True), params)
                names = [c[0] for c in cursor.description]
                ranked = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
        codes = {t.merchant_code for t in page}
        bonus = set(Merchant.objects.bonus().filter(code__in=codes).values_list("code", flat=True))
        completions = {
            s.mission.code: s.cleared_by_transaction_id
            for s in Stamp.objects.filter(
                campaign=campaign, member_id=member, cleared=True, mission__kind="completion"
            ).select_related("mission")
        }
        messages = _messages()
        return [
            self._one(tx, base.get(tx.pk), ranked.get(tx.pk), rules, entered, completions, bonus, messages)
            for tx in page
        ]

    def _one(self, tx, failed, row, rules: list[Rule], entered, completions, bonus, messages) -> dict:
        reasons: dict[str, list[str]] = {}
        counted: list[str] = []

        def reason(code: str, mission: str | None = None) -> None:
            reasons.setdefault(code, [])
            if mission:
                reasons[code].append(mission)

        if failed:
            reason(failed)
        else:
            for k, rule in enumerate(rules):
                why = row[f"r{k}"] if row else "wrong_type"
                if why == "wrong_type":
                    continue
                if why:
                    reason(why, rule.code)
                elif entered and row[f"v{k}"] >= rule.target:
                    reason("mission_already_cleared", rule.code)
                elif not row[f"g{k}"]:
                    reason(rule.kind_def.no_gain, rule.code)
                else:
                    counted.append(rule.code)
            # A completion mission counts the transaction that completed it.
            counted += [code for code, pk in completions.items() if entered and pk == tx.pk]
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
            "cancelled": failed == "cancelled",
            "counted_for": counted,
            "would_count_for": would_count,
            "reasons": [
                {"code": code, "message": messages[code], "missions": missions} for code, missions in reasons.items()
            ],
        }

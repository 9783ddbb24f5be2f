"""Demo data for `make run`: staff users, members with passwords, and a running campaign.

Five hand-written members (who can sign in) and a few thousand generated ones (``campaign.demo``)
with entries, charges, payments, cancels, video views and the daily imports that brought them.
Idempotent: running it again creates nothing new. Prints who can sign in with which password.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from campaign import clock
from campaign.demo import DEMO_MEMBERS, demo_campaign_create
from campaign.env import JST
from campaign.models import Campaign, Entry, EntrySource, Member, RecordSource, Transaction
from missions.services import members_score

STAFF = [
    # username, password, group, superuser
    ("admin", "wesmo-admin-2026", None, True),
    ("marketing", "wesmo-marketing-2026", "marketing", False),
    ("operations", "wesmo-operations-2026", "operations", False),
    ("lottery1", "wesmo-lottery1-2026", "lottery", False),
    ("lottery2", "wesmo-lottery2-2026", "lottery", False),
]
MEMBER_PASSWORD = "wesmo-demo-2026"  # noqa: S105 (demo data, printed by make run)


def _t(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=JST)


# (member, transaction id suffix, type, amount, points used, merchant, time, original)
ACTIVITY = [
    # M0000001: an active member with a half-full card.
    ("M0000001", "c1", "charge", 12000, 0, "", _t(2, 8, 15), ""),
    ("M0000001", "p1", "payment", 640, 0, "CVS-000123", _t(3, 7, 42), ""),
    ("M0000001", "p2", "payment", 980, 0, "REST-004411", _t(4, 12, 5), ""),
    ("M0000001", "p3", "payment", 1500, 0, "SUPER-00031", _t(6, 18, 30), ""),  # a Friday
    ("M0000001", "p4", "payment", 600, 200, "CVS-000123", _t(9, 8, 0), ""),  # 400 yen after points
    ("M0000001", "p5", "payment", 800, 800, "CVS-000123", _t(10, 9, 0), ""),  # wholly with points
    ("M0000001", "p6", "payment", 350, 0, "KOBE-03", _t(14, 15, 20), ""),  # bonus merchant
    ("M0000001", "p7", "payment", 3200, 0, "DRUG-7781", _t(16, 19, 45), ""),
    ("M0000001", "p8", "payment", 5400, 0, "ELEC-1102", _t(17, 20, 10), ""),
    ("M0000001", "x8", "cancel", 5400, 0, "", _t(17, 20, 40), "p8"),  # returned the same evening
    # M0000002: entered, one charge so far.
    ("M0000002", "c1", "charge", 3000, 0, "", _t(12, 10, 0), ""),
    # M0000003: has paid but not entered yet: sees what entry would give.
    ("M0000003", "c1", "charge", 100000, 0, "", _t(5, 21, 0), ""),
    ("M0000003", "p1", "payment", 1200, 0, "OKAYAMA-04", _t(7, 11, 30), ""),
]
ENTERED = {"M0000001": _t(2, 9), "M0000002": _t(11, 20), "M0000004": _t(3, 8)}


class Command(BaseCommand):
    help = "Create demo staff users, members, entries and transactions (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--members",
            type=int,
            default=DEMO_MEMBERS,
            help=f"Generated members besides the five who can sign in (default {DEMO_MEMBERS}).",
        )

    def handle(self, *args, members=DEMO_MEMBERS, **options):
        campaign = Campaign.objects.current()
        lines = self._staff() + self._members()
        with transaction.atomic():
            self._entries(campaign)
            self._transactions(campaign)
            generated = demo_campaign_create(campaign=campaign, members=members, now=clock.now())
        members_score(campaign=campaign, member_ids=[f"M000000{i}" for i in range(1, 6)] + generated)
        self.stdout.write(
            "Demo sign-ins (demo clock: {}):".format(clock.now().astimezone(JST).strftime("%Y-%m-%d %H:%M JST"))
        )
        for line in lines:
            self.stdout.write("  " + line)

    def _staff(self) -> list[str]:
        User = get_user_model()
        lines = []
        for username, password, group_name, superuser in STAFF:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": True, "is_superuser": superuser}
            )
            if created:
                user.set_password(password)
                user.save()
            if group_name:
                group = Group.objects.filter(name=group_name).first()
                if group is not None:
                    user.groups.add(group)
            role = "superuser" if superuser else f"staff, group {group_name}"
            lines.append(f"/admin/  {username} / {password}  ({role})")
        return lines

    def _members(self) -> list[str]:
        User = get_user_model()
        lines = []
        for i in range(1, 6):
            member_id = f"M000000{i}"
            user, created = User.objects.get_or_create(username=member_id)
            if created:
                user.set_password(MEMBER_PASSWORD)
                user.save()
            member, made = Member.objects.get_or_create(member_id=member_id)
            if made:  # first seen at their first record on the demo clock, not when this command ran
                times = [row[6] for row in ACTIVITY if row[0] == member_id] + [ENTERED.get(member_id, clock.now())]
                Member.objects.filter(pk=member_id).update(created_at=min(times))
            if member.user_id != user.pk:
                member.user = user
                member.save(update_fields=["user"])
            lines.append(f"/login/  demo sign-in: {member_id}")
        return lines

    def _entries(self, campaign: Campaign) -> None:
        # The demo's history arrived when it happened, as the generated members' (campaign.demo): through
        # entry_create, which judges arrival on the clock, a clock after the data cut-off (make run
        # DEMO_NOW=2026-04-15…) refused them. handle() scores these members afterwards.
        for member_id, entered_at in ENTERED.items():
            Entry.objects.get_or_create(
                campaign=campaign,
                member_id=member_id,
                defaults={"entered_at": entered_at, "source": EntrySource.DEMO, "received_at": entered_at},
            )

    def _transactions(self, campaign: Campaign) -> None:
        received = clock.now()
        rows = []
        for member_id, suffix, kind, amount, points, merchant, when, original in ACTIVITY:
            rows.append(
                Transaction(
                    transaction_id=f"DEMO-{member_id}-{suffix}",
                    campaign=campaign,
                    member_id=member_id,
                    type=kind,
                    amount=amount,
                    points_used=points,
                    merchant_code=merchant,
                    occurred_at=when,
                    original_transaction_id=f"DEMO-{member_id}-{original}" if original else "",
                    charge_method="jwest_card" if kind == "charge" else "",
                    source=RecordSource.DEMO,
                    received_at=min(received, when + timedelta(minutes=2)),
                )
            )
        Transaction.objects.bulk_create(rows, ignore_conflicts=True)

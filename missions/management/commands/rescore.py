"""``manage.py rescore [--member ID] [--campaign CODE] [--jobs N]``: recompute stamps, cards and ledger."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from campaign.models import Campaign, Member
from missions.services import members_score


class Command(BaseCommand):
    help = "Re-score every member of the campaign (or one member), synchronously. Running it twice changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--member", action="append", dest="members", metavar="ID", help="only this member")
        parser.add_argument("--campaign", help="campaign code (default: the current campaign)")
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            help="full re-score on PostgreSQL: score disjoint chunks of members in N processes (default 1)",
        )

    def handle(self, *args, members=None, campaign=None, jobs=1, **options):
        try:
            target = Campaign.objects.get(code=campaign) if campaign else Campaign.objects.current()
        except Campaign.DoesNotExist as exc:
            raise CommandError(str(exc) or f"No campaign {campaign!r}.") from None
        if jobs < 1:
            raise CommandError("--jobs must be at least 1.")
        if members:
            unknown = sorted(
                set(members) - set(Member.objects.filter(member_id__in=members).values_list("pk", flat=True))
            )
            if unknown:
                raise CommandError(f"Unknown member ID(s): {', '.join(unknown)}")
        started = time.monotonic()
        result = members_score(campaign=target, member_ids=members)
        self.stdout.write(
            f"members={result.members_scored} changed={result.members_changed} stamps_changed={result.stamps_changed} "
            f"awards={result.awards} reversals={result.reversals} points_delta={result.points_delta} "
            f"seconds={time.monotonic() - started:.2f} jobs={jobs if not members else 1}"
        )

"""``manage.py rescore [--member ID] [--campaign CODE] [--jobs N]``: recompute stamps, cards and ledger."""

from __future__ import annotations

import time

from celery import group
from django.core.management.base import BaseCommand, CommandError

from campaign.celery import app
from campaign.models import Campaign, Member
from missions.services import ScoreResult, members_of_campaign, members_score
from missions.tasks import members_score_task


class Command(BaseCommand):
    help = "Re-score every member of the campaign (or one member). Running it twice changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--member", action="append", dest="members", metavar="ID", help="only this member")
        parser.add_argument("--campaign", help="campaign code (default: the current campaign)")
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            help="full re-score: send it as N scoring tasks of disjoint members, shared by the Celery workers "
            "that run, and wait for them (inline without a broker; default 1: here, in this process)",
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
        if jobs > 1 and not members:
            result = rescore_group(campaign=target, jobs=jobs)
        else:
            result = members_score(campaign=target, member_ids=members)
            jobs = 1
        self.stdout.write(
            f"members={result.members_scored} changed={result.members_changed} stamps_changed={result.stamps_changed} "
            f"awards={result.awards} reversals={result.reversals} points_delta={result.points_delta} "
            f"seconds={time.monotonic() - started:.2f} jobs={jobs}"
        )


def rescore_group(*, campaign: Campaign, jobs: int) -> ScoreResult:
    """The full re-score as a Celery group of ``jobs`` disjoint member chunks, waited for; the sum of theirs."""
    listed = members_of_campaign(campaign)
    size = max(1, -(-len(listed) // jobs))
    chunks = [listed[start : start + size] for start in range(0, len(listed), size)]
    job = group(members_score_task.s(campaign.pk, chunk) for chunk in chunks)
    if app.conf.task_always_eager:
        counts = job.apply().get(disable_sync_subtasks=False)  # (inline: nothing to wait for)
    else:
        counts = job.apply_async(ignore_result=False).get(disable_sync_subtasks=False, propagate=True)
    result = ScoreResult()
    for each in counts:
        result.add(ScoreResult(**each))
    return result

"""``manage.py lottery commit|draw|confirm|forfeit …`` — the admin's draw steps for automation (SPEC 3.2)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from campaign.models import Campaign
from campaign.services import Refused
from lottery import services
from lottery.models import Draw, Forfeit, ForfeitStatus


class Command(BaseCommand):
    help = "Run the lottery draw (R11): commit, draw, confirm (by a second officer), forfeit a winner."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{commit,draw,confirm,forfeit}")

        def action(name: str, help_text: str):
            sub = actions.add_parser(name, help=help_text)
            sub.add_argument("--user", required=True, help="The lottery officer (a member of the lottery group).")
            return sub

        commit = action("commit", "Freeze the eligible list and commit to a secret seed; prints the draw id last.")
        commit.add_argument("--campaign", help="Campaign code (default: the current campaign).")
        for name, help_text in (("draw", "Draw the winners and reveal the seed."), ("confirm", "Confirm the draw.")):
            action(name, help_text).add_argument("draw_id", type=int, metavar="ID")
        forfeit = action(
            "forfeit",
            "Record that a winner forfeits (the next member in digest order replaces them); run it again "
            "by a second officer to confirm.",
        )
        forfeit.add_argument("draw_id", type=int, metavar="ID")
        forfeit.add_argument("member_id", metavar="MEMBER_ID")
        forfeit.add_argument("--reason", default="", help="Why the winner forfeits (required to record it).")

    def handle(self, *args, action: str, user: str, **options):
        officer = get_user_model().objects.filter(username=user).first()
        if officer is None:
            raise CommandError(f"No user {user!r}.")
        try:
            getattr(self, f"handle_{action}")(officer, **options)
        except Refused as exc:
            raise CommandError(exc.message) from None

    def _draw(self, draw_id: int) -> Draw:
        draw = Draw.objects.filter(pk=draw_id).first()
        if draw is None:
            raise CommandError(f"No draw {draw_id}.")
        return draw

    def handle_commit(self, officer, *, campaign=None, **options):
        if campaign:
            found = Campaign.objects.filter(code=campaign).first()
            if found is None:
                raise CommandError(f"No campaign {campaign!r}.")
        else:
            found = Campaign.objects.current()
        draw = services.draw_commit(campaign=found, user=officer)
        self.stdout.write(
            f"Committed draw {draw.pk} of {found.code}: {draw.eligible_count} eligible, {draw.winners_count} winners"
        )
        self.stdout.write(f"eligible_hash {draw.eligible_hash}")
        self.stdout.write(f"seed_hash {draw.seed_hash}")
        self.stdout.write(str(draw.pk))

    def handle_draw(self, officer, *, draw_id: int, **options):
        draw = services.draw_perform(draw=self._draw(draw_id), user=officer)
        self.stdout.write(f"Drew draw {draw.pk}: seed {draw.seed}, cutoff_digest {draw.cutoff_digest or '-'}")
        for entrant in services.current_winners(draw=draw):
            self.stdout.write(f"{entrant.rank:>4} {entrant.member_id} {entrant.digest}")

    def handle_confirm(self, officer, *, draw_id: int, **options):
        draw = services.draw_confirm(draw=self._draw(draw_id), user=officer)
        winners = services.current_winners(draw=draw).count()
        self.stdout.write(f"Confirmed draw {draw.pk}: {winners} winners awarded {draw.prize_points} points each")

    def handle_forfeit(self, officer, *, draw_id: int, member_id: str, reason: str = "", **options):
        draw = self._draw(draw_id)
        pending = Forfeit.objects.filter(draw=draw, member_id=member_id, status=ForfeitStatus.PENDING).first()
        if pending is not None:
            forfeit = services.forfeit_confirm(forfeit=pending, user=officer)
            self.stdout.write(
                f"Confirmed forfeit #{forfeit.number}: {forfeit.member_id} replaced by "
                f"{forfeit.replacement_member_id or 'nobody (no eligible member left)'}"
            )
            return
        forfeit = services.forfeit_record(draw=draw, member_id=member_id, reason=reason, user=officer)
        self.stdout.write(
            f"Recorded forfeit #{forfeit.number}: {forfeit.member_id} → "
            f"{forfeit.replacement_member_id or 'nobody (no eligible member left)'}; "
            "a second lottery officer confirms it by running the same command."
        )

"""``manage.py verify_draw ID`` — recompute R11 from the stored seed and frozen list (SPEC 3.2)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from lottery.models import Draw
from lottery.verification import draw_verify


class Command(BaseCommand):
    help = (
        "Recompute the eligible hash, the seed hash, the winners and the forfeit replacements of a draw "
        "from the stored data; prints OK (exit 0) or each difference (exit 1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("draw_id", type=int, metavar="ID")

    def handle(self, *args, draw_id: int, **options):
        draw = Draw.objects.filter(pk=draw_id).first()
        if draw is None:
            raise CommandError(f"No draw {draw_id}.")
        report = draw_verify(draw=draw)
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        if report.ok:
            self.stdout.write(
                f"OK: draw {draw.pk} ({draw.status}): eligible_hash, seed_hash"
                + (", winners, forfeits" if draw.is_drawn else "")
                + (" and ledger" if draw.status == "confirmed" else "")
                + " recomputed and equal to the stored values"
            )
            return
        for difference in report.differences:
            self.stdout.write(f"DIFFERS: {difference}")
        self.stdout.flush()
        sys.exit(1)

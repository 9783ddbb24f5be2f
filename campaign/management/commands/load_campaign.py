from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from campaign.seeding import SeedError, campaign_load


class Command(BaseCommand):
    help = (
        "Load or update the campaign, courses, missions, videos and bonus merchants from seed files (default: seeds/)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="A folder with campaign.yaml and merchants.csv (default: seeds/).")

    def handle(self, *args, path=None, **options):
        try:
            campaign, report = campaign_load(path=path)
        except SeedError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{campaign.code}: {report}")

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from campaign.seeding import SeedError, campaign_load

# Who the history names when --update runs without --user: a user that cannot sign in.
SYSTEM_USERNAME = "load_campaign"


class Command(BaseCommand):
    help = (
        "Create the campaign, courses, missions, videos and bonus merchants of the seed files (default: seeds/) "
        "that are missing. Existing rows keep their values (staff may have edited them) unless --update."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="A folder with campaign.yaml and merchants.csv (default: seeds/).")
        parser.add_argument(
            "--update",
            action="store_true",
            help="Also set existing rows to the seed's values; prints each field (old → new) and records it "
            "in the row's history.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Print what --update would change; change nothing.")
        parser.add_argument(
            "--user",
            help=f"The staff username the history records for --update (default: a system user {SYSTEM_USERNAME!r}).",
        )

    def handle(self, *args, path=None, update=False, dry_run=False, user=None, **options):
        actor = self._actor(user) if update and not dry_run else None
        try:
            campaign, report = campaign_load(path=path, update=update and not dry_run, user=actor, dry_run=dry_run)
        except SeedError as exc:
            raise CommandError(str(exc)) from None
        if report.changes:
            heading = "changing (old → new):" if update and not dry_run else "differs from the seed (database → seed):"
            self.stdout.write(heading)
            for change in report.changes:
                self.stdout.write(f"  {change}")
        self.stdout.write(f"{campaign.code}: {report}" + (" (dry run: nothing saved)" if dry_run else ""))

    def _actor(self, username: str | None):
        users = get_user_model()
        if username:
            try:
                return users.objects.get(username=username)
            except users.DoesNotExist:
                raise CommandError(f"--user {username}: no such user") from None
        actor, created = users.objects.get_or_create(username=SYSTEM_USERNAME, defaults={"is_active": False})
        if created:
            actor.set_unusable_password()
            actor.save(update_fields=["password"])
        return actor

"""`manage.py import_transactions PATH`: import a transaction file and score it (SPEC 3.2)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from campaign.imports.batches import import_batch_create, import_batch_run, import_earlier
from campaign.models import Campaign, ImportRejection, ImportStatus
from campaign.services import import_statistics_refresh


class Command(BaseCommand):
    help = (
        "Import a transaction file (CSV in UTF-8 or CP932, or XLSX) and score the members it touches. "
        "Prints the rejected rows and a summary line; exits non-zero when the file is refused whole."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the CSV or XLSX file")
        parser.add_argument(
            "--no-score", action="store_true", help="store the transactions only; score later (manage.py rescore)"
        )

    def handle(self, *args, path: str, no_score: bool, **options):
        try:
            campaign = Campaign.objects.current()
            batch = import_batch_create(campaign=campaign, path=path)
        except (Campaign.DoesNotExist, OSError) as exc:
            raise CommandError(str(exc)) from None
        earlier = import_earlier(batch=batch)
        if earlier is not None:
            self.stderr.write(
                _("This file was already imported as #%(number)s on %(time)s; importing it again changes nothing.")
                % {"number": earlier.pk, "time": f"{localtime(earlier.created_at):%Y-%m-%d %H:%M}"}
            )
        batch = import_batch_run(batch=batch, path=path, scoring="none" if no_score else "now")
        import_statistics_refresh()
        if batch.status == ImportStatus.REFUSED:
            raise CommandError(f"{path}: refused: {batch.message}")
        for warning in batch.warnings:
            self.stderr.write(f"warning: {warning}")
        if options["verbosity"] >= 2 and getattr(batch, "phases", None):
            # Where the time went (bench/import.py reads this line): stderr keeps the summary last on stdout.
            self.stderr.write("phases: " + " ".join(f"{name}={seconds:.2f}s" for name, seconds in batch.phases.items()))
        for line, transaction_id, reason in (
            ImportRejection.objects.filter(batch=batch).order_by("line").values_list("line", "transaction_id", "reason")
        ).iterator(chunk_size=2000):
            self.stdout.write(f"line {line}: {transaction_id or '-'}: {reason}")
        self.stdout.write(
            f"rows={batch.rows_total or 0} accepted={batch.accepted} duplicates={batch.duplicates} "
            f"rejected={batch.rejected}"
        )

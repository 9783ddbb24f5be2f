"""Background work of the campaign app: running a transaction import, failing the imports that were lost."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from campaign.imports.batches import import_batch_run as import_batch_run_service
from campaign.imports.batches import imports_stale_fail as imports_stale_fail_service
from campaign.models import ImportBatch


@shared_task(acks_late=True, max_retries=3, autoretry_for=(OperationalError,), retry_backoff=True)
def import_batch_run(batch_id: int) -> None:
    """Import an uploaded file; safe to run twice (a finished batch is left alone, a retry starts over)."""
    batch = ImportBatch.objects.select_related("campaign").filter(pk=batch_id).first()
    if batch is None:
        return
    import_batch_run_service(batch=batch, scoring="later")


@shared_task
def imports_stale_fail() -> int:
    """Run by Celery beat (settings.CELERY_BEAT_SCHEDULE): imports silent too long are marked failed."""
    return imports_stale_fail_service()

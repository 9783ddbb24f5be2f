"""Background work of the campaign app: running a transaction import, failing the imports that were lost."""

from __future__ import annotations

import threading

import psycopg
from celery import shared_task
from django.conf import settings
from django.db import OperationalError, close_old_connections, connections, transaction

from campaign.celery import app
from campaign.imports.batches import import_batch_run as import_batch_run_service
from campaign.imports.batches import imports_stale_fail as imports_stale_fail_service
from campaign.models import ImportBatch
from campaign.queueing import task_enqueue
from campaign.services import import_statistics_refresh


# psycopg's own: the staging COPY writes through psycopg's cursor, outside Django's error wrapping
# (wrapping each row would cost more than the rest of the check), so a connection ended mid-COPY
# raises psycopg's OperationalError. A retried import stores what is not stored yet.
@shared_task(
    acks_late=True, max_retries=3, autoretry_for=(OperationalError, psycopg.OperationalError), retry_backoff=True
)
def import_batch_run(batch_id: int) -> None:
    """Import an uploaded file; safe to run twice (a finished batch is left alone, a retry starts over)."""
    batch = ImportBatch.objects.select_related("campaign").filter(pk=batch_id).first()
    if batch is None:
        return
    import_batch_run_service(batch=batch, scoring="later")
    import_statistics_refresh()


def import_start(batch_id: int) -> None:
    """Run an uploaded import after the current transaction commits: on a worker, or without a broker
    on a thread of this process, so that the upload page answers at once and its progress moves."""
    if app.conf.task_always_eager and settings.PORTAL_IMPORT_THREAD:
        transaction.on_commit(lambda: import_thread_start(batch_id))
    else:
        transaction.on_commit(lambda: _import_send(batch_id))


def _import_send(batch_id: int) -> None:
    """Send the import to a worker; when the broker refuses it, run it on a thread here instead.

    Not ``delay_on_commit``: with Redis down, kombu's error escaped after the upload committed, the
    admin got a server error and the batch stayed "waiting" forever, its file never imported. On a
    thread the records are stored now; their scoring waits, due, for the sweep (tests/faults).
    """
    if not task_enqueue(import_batch_run, batch_id):
        import_thread_start(batch_id)


def import_thread_start(batch_id: int) -> threading.Thread:
    """Run the import task (inline, as Celery would without a broker) on a thread of its own."""
    thread = threading.Thread(target=_import_thread, args=(batch_id,), name=f"import-{batch_id}", daemon=True)
    thread.start()
    return thread


def _import_thread(batch_id: int) -> None:
    close_old_connections()
    try:
        import_batch_run.apply(args=(batch_id,))  # its failure is recorded on the batch
    finally:
        connections.close_all()  # this thread's own connection


@shared_task
def imports_stale_fail() -> int:
    """Run by Celery beat (settings.CELERY_BEAT_SCHEDULE): imports silent too long are marked failed."""
    return imports_stale_fail_service()

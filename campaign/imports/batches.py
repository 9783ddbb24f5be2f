"""An import batch, from the file to the scored members: the one path of the command and the admin.

``import_batch_run`` reads and checks the file in one pass, streaming the valid rows into the
staging table and the rejected ones into the report (``ImportRejection``) chunk by chunk, saving
the progress between chunks; then the staged rows are merged slice by slice (``merging``), so a
file refused while it is read stores nothing, and a run stopped while merging stores the rest when
run again (what a slice stored counts as duplicates then). The members it touched are scored by
``members_score_task``s in a Celery group spread over whatever workers run (inline when there is
no broker); the command waits for the group, the admin's task does not.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from celery import group
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from campaign import clock
from campaign.celery import app
from campaign.imports.checking import RecordCounts, Window, errors_reason, record_check, window_for
from campaign.imports.merging import Stage, stage_merge
from campaign.imports.reading import FileRefused, RowSource, file_open, raw_row, row_values
from campaign.models import Campaign, ImportBatch, ImportRejection, ImportStatus
from campaign.queueing import signature_enqueue
from missions.services import SCORE_CHUNK, full_chunk_size
from missions.tasks import members_score_task

logger = logging.getLogger(__name__)

CHUNK_ROWS = 50_000  # rows read between two saves of the progress (one COPY statement on PostgreSQL)
REJECTION_CHUNK = 1000  # rejected rows held before they are written to the report
SCORE_SPREAD = 2  # each slice's members go out in this many scoring tasks, for the workers to share


@dataclass
class ImportResult(RecordCounts):
    warnings: list[str] = field(default_factory=list)
    # Seconds per phase: stage (read, check, COPY), merge, score (the wait for the scoring group).
    phases: dict[str, float] = field(default_factory=dict)


def file_sha256(path: str | Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def import_batch_create(
    *, campaign: Campaign, path: str | Path, file_name: str = "", user=None, sha256: str = "", size: int = 0
) -> ImportBatch:
    """Record an import of the file at ``path`` (the command's; the admin stores the upload itself)."""
    if not sha256:
        sha256, size = file_sha256(path)
    return ImportBatch.objects.create(
        campaign=campaign,
        file_name=(file_name or Path(path).name)[:255],
        sha256=sha256,
        size_bytes=size,
        uploaded_by=user,
    )


def import_earlier(*, batch: ImportBatch) -> ImportBatch | None:
    """A finished import of the same file (same SHA-256), if there is one."""
    return (
        ImportBatch.objects.filter(sha256=batch.sha256, status=ImportStatus.DONE)
        .exclude(pk=batch.pk)
        .order_by("-created_at")
        .first()
    )


def import_batch_run(*, batch: ImportBatch, path: str | Path | None = None, scoring: str = "later") -> ImportBatch:
    """Import the batch's file and record the outcome on the batch; safe to run twice.

    ``scoring``: "later" hands the touched members to the scoring tasks (the admin's task),
    "now" also waits for them (the command), "none" leaves them (``manage.py rescore`` later).
    """
    if batch.status in (ImportStatus.DONE, ImportStatus.REFUSED):
        return batch
    path = Path(path) if path else Path(batch.file.path)
    ImportRejection.objects.filter(batch=batch).delete()  # a retried run starts over
    batch.status = ImportStatus.RUNNING
    batch.started_at = batch.progress_at = timezone.now()
    batch.rows_done = 0
    batch.message = ""  # a retried run's stage, not its last failure
    batch.save(update_fields=["status", "started_at", "progress_at", "rows_done", "message"])
    try:
        source = file_open(path)
        batch.rows_total = source.approx_rows or None
        batch.encoding = source.encoding or source.kind
        batch.japanese_header = bool(source.header and source.header.japanese)
        batch.save(update_fields=["rows_total", "encoding", "japanese_header"])
        result = transactions_import(campaign=batch.campaign, source=source, batch=batch, scoring=scoring)
    except FileRefused as exc:
        ImportRejection.objects.filter(batch=batch).delete()
        _batch_end(batch, ImportStatus.REFUSED, str(exc))
        return batch
    except Exception as exc:
        logger.exception("Import #%s failed", batch.pk)
        _batch_end(batch, ImportStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000])
        raise
    batch.rows_total = batch.rows_done = result.rows
    batch.accepted, batch.duplicates, batch.rejected = result.accepted, result.duplicates, result.rejected
    batch.warnings = result.warnings
    _batch_end(batch, ImportStatus.DONE, result.summary())
    batch.phases = result.phases  # not stored: for the command's timings
    return batch


def _batch_end(batch: ImportBatch, status: str, message: str) -> None:
    batch.status = status
    batch.message = message
    batch.finished_at = batch.progress_at = timezone.now()
    batch.save()


def transactions_import(
    *,
    campaign: Campaign,
    source: RowSource,
    batch: ImportBatch,
    scoring: str = "later",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import the rows of an opened file into ``campaign`` as ``batch`` (SPEC 3.1), in bounded memory.

    Outside a caller's transaction the staging and the progress commit as they go (the admin page
    sees them); the records are stored by the merge's slices once the whole file is read, each
    slice's members handed to the scoring tasks as soon as it is committed. ``progress`` is told the
    rows read after each chunk, and once more once the records are stored.
    """
    result = ImportResult()
    started = time.monotonic()
    scorer = _Scoring(campaign=campaign, mode=scoring)
    stage = Stage()
    try:
        ascending = _rows_stage(
            source=source, window=window_for(campaign), stage=stage, batch=batch, result=result, progress=progress
        )
        merging = time.monotonic()
        result.phases["stage"] = merging - started

        def stored(members: list[str], done: int, slices: int) -> None:
            scorer.send(members)
            message = _("File read and checked; %(done)s of %(parts)s parts stored.") % {"done": done, "parts": slices}
            ImportBatch.objects.filter(pk=batch.pk).update(message=message, progress_at=timezone.now())

        merged = stage_merge(
            stage=stage,
            campaign_id=campaign.pk,
            batch_id=batch.pk,
            received_at=clock.now(),
            ascending=ascending,
            on_slice=stored,
        )
        result.phases["merge"] = time.monotonic() - merging
        result.phases["store"] = time.monotonic() - started
    finally:
        stage.close()
    result.accepted = merged.accepted
    result.duplicates = merged.duplicates
    result.rejected += merged.conflicts
    result.warnings = list(source.header.warnings) if source.header else []
    if progress:
        progress(result.rows)
    waiting = time.monotonic()
    scorer.wait()
    if scoring != "none":
        result.phases["score"] = time.monotonic() - waiting
    logger.info("Import #%s: %s in %.1f s", batch.pk, result.summary(), time.monotonic() - started)
    return result


def _rows_stage(
    *,
    source: RowSource,
    window: Window,
    stage: Stage,
    batch: ImportBatch,
    result: ImportResult,
    progress: Callable[[int], None] | None,
) -> bool:
    """Read and check every row once: valid ones to ``stage``, rejected ones to the report, by chunks.
    Returns whether the valid rows' ids only increased (then none repeats)."""
    header = source.header
    width = len(header.names)
    pick = header.picker()
    problems = source.problems  # rows found wrong while reading: a quote never closed, a formula never computed
    rejections: list[ImportRejection] = []
    rows = 0
    next_save = CHUNK_ROWS
    last_id, ascending = "", True
    for line, values in source.rows():
        problem = ""
        found = None
        if len(values) == width and line not in problems:
            values.append("")  # what ``pick`` takes for a column the file does not have
            picked = pick(values)
            values.pop()
        else:
            picked, problem = row_values(values, header)
            found = problems.pop(line, None)
        record, errors = record_check(picked, window)
        if record is not None and not problem and not found:
            stage.write((line, *record))
            if record[0] <= last_id:
                ascending = False
            last_id = record[0]
        elif not any(value not in ("", None) for value in values):
            continue  # blank lines and spreadsheets' empty rows are not rows
        else:
            if problem:
                errors = {"non_field_errors": [problem], **errors}
            if found:  # it replaces what the check made of the same cell (empty, cut short) or of the whole row
                errors = {**found, **{column: messages for column, messages in errors.items() if column not in found}}
            rejections.append(_rejection(batch, line, picked, errors, values, header))
        rows += 1
        if rows >= next_save or len(rejections) >= REJECTION_CHUNK:
            _chunk_save(stage=stage, batch=batch, rejections=rejections, rows=rows, progress=progress)
            next_save = rows + CHUNK_ROWS
    _chunk_save(stage=stage, batch=batch, rejections=rejections, rows=rows, progress=None)
    result.rows = rows
    result.rejected = ImportRejection.objects.filter(batch=batch).count()
    return ascending


def _rejection(batch: ImportBatch, line: int, picked, errors: dict, values: list, header) -> ImportRejection:
    return ImportRejection(
        batch=batch,
        line=line,
        transaction_id=str(picked[0] or "").strip()[:255],
        reason=errors_reason(errors),
        raw=raw_row(values, header),
    )


def _chunk_save(
    *, stage: Stage, batch: ImportBatch, rejections: list, rows: int, progress: Callable[[int], None] | None
) -> None:
    """Between chunks: the staged rows sent, the rejected rows written, the progress saved."""
    stage.flush()
    if rejections:
        ImportRejection.objects.bulk_create(rejections)
        rejections.clear()
    ImportBatch.objects.filter(pk=batch.pk).update(rows_done=rows, progress_at=timezone.now())
    if progress:
        progress(rows)


class _Scoring:
    """The scoring of an import's members: each batch of them sent as a Celery group of
    ``members_score_task`` chunks, spread over whatever workers run (inline without a broker).

    ``mode`` "now" (the command) waits for every group sent (``wait``); "later" (the admin's task,
    which must not wait for other tasks) only sends them; "none" sends nothing.
    """

    def __init__(self, *, campaign: Campaign, mode: str) -> None:
        self.campaign, self.mode = campaign, mode
        self.sent: list = []

    def send(self, member_ids: list[str]) -> None:
        if self.mode == "none" or not member_ids:
            return
        size = min(full_chunk_size(), max(SCORE_CHUNK, -(-len(member_ids) // SCORE_SPREAD)))
        chunks = [member_ids[start : start + size] for start in range(0, len(member_ids), size)]
        job = group(members_score_task.s(self.campaign.pk, chunk) for chunk in chunks)
        if app.conf.task_always_eager:
            job.apply()
        elif self.mode == "now":
            self.sent.append(job.apply_async(ignore_result=False))
        else:
            # A broker that is down must not fail the import after this slice was stored (the rest of
            # the file would be lost with it): the slice's members were marked due in its transaction,
            # and the sweep scores them once the broker is back (issue 17, tests/faults).
            signature_enqueue(job)

    def wait(self) -> None:
        for result in self.sent:
            result.get(disable_sync_subtasks=False, propagate=True)
        self.sent = []


def members_score_group(*, campaign: Campaign, member_ids: list[str], wait: bool) -> None:
    """Score ``member_ids`` by a Celery group of task chunks (``wait``: and wait for it)."""
    scoring = _Scoring(campaign=campaign, mode="now" if wait else "later")
    scoring.send(member_ids)
    scoring.wait()


def imports_stale_fail(*, now=None) -> int:
    """Mark failed every running import that has saved no progress for PORTAL_IMPORT_STALE_AFTER.

    Its process was lost (killed, or its worker's machine gone): nothing of it was stored, since the
    records go in by one transaction at the end; running it again imports the file.
    """
    stale_after: timedelta = settings.PORTAL_IMPORT_STALE_AFTER
    now = now or timezone.now()
    minutes = int(stale_after.total_seconds() // 60)
    # Only running ones: a batch still waiting may be queued behind others, and a task lost before it
    # started comes back by the broker's visibility timeout (settings).
    stale = ImportBatch.objects.filter(status=ImportStatus.RUNNING, progress_at__lt=now - stale_after)
    if not stale.exists():  # a read: the admin's pages call this while an import writes (SQLite: one writer)
        return 0
    return stale.update(
        status=ImportStatus.FAILED,
        finished_at=now,
        message=_("No progress for %(minutes)s minutes: the import's process was lost. Upload the file again.")
        % {"minutes": minutes},
    )

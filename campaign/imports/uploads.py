"""The admin's side of an import: an uploaded file becomes a batch run in the background, and its
rejected rows come back as a report written the way the file was (encoding, header language).

With a broker the batch runs in a Celery worker. Without one (``make run``) Celery would run it
inline, inside the upload's request, and the browser would wait for the whole import; instead it
runs on a thread of the web process started after the upload commits (settings.PORTAL_IMPORT_THREAD),
so the upload returns at once and the progress page moves. A thread rather than a worker started by
``make run``: a worker needs a broker, which ``make run`` deliberately does without.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from django.contrib.admin.models import ADDITION
from django.db import transaction
from django.utils.translation import gettext

from campaign.audit import staff_action_record
from campaign.imports.batches import import_earlier
from campaign.imports.checking import COLUMNS, JAPANESE_COLUMNS
from campaign.models import Campaign, ImportBatch, ImportRejection

REPORT_HEAD_EN = ["line", "reason", *COLUMNS]
REPORT_HEAD_JA = ["行", "理由", *({column: name for name, column in JAPANESE_COLUMNS.items()}[c] for c in COLUMNS)]


def import_upload_create(*, campaign: Campaign, upload, user) -> tuple[ImportBatch, ImportBatch | None]:
    """Store an uploaded file as a new import and record who did it (``campaign.tasks.import_start`` runs it).

    Returns the batch and an earlier finished import of the same file (same SHA-256), if
    any: importing it again is allowed (it changes nothing) but the page says so.
    """
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    with transaction.atomic():
        batch = ImportBatch(
            campaign=campaign,
            file_name=Path(upload.name).name[:255],
            sha256=digest.hexdigest(),
            size_bytes=upload.size,
            uploaded_by=user,
        )
        batch.file.save(Path(upload.name).name, upload, save=False)
        batch.save()
        earlier = import_earlier(batch=batch)
        staff_action_record(
            user=user,
            obj=batch,
            message=gettext("Uploaded %(file)s (%(size)s bytes, SHA-256 %(sha256)s) for import")
            % {"file": batch.file_name, "size": f"{batch.size_bytes:,}", "sha256": batch.sha256},
            action_flag=ADDITION,
        )
    return batch, earlier


def report_encoding(batch: ImportBatch) -> str:
    """The encoding the error report is written in: the upload's (CP932 stays CP932), else UTF-8 with a BOM."""
    return "cp932" if batch.encoding == "cp932" else "utf-8-sig"


def rejections_csv_rows(*, batch: ImportBatch) -> Iterator[list[str]]:
    """The error report: line, reason, then the row as read under the columns of SPEC 3.1, headed in
    the file's language.

    Operations can correct the rows in the report and import it as it is: the ``line`` and
    ``reason`` columns are ignored (with a warning) and the others are the file's columns.
    """
    yield REPORT_HEAD_JA if batch.japanese_header else REPORT_HEAD_EN
    rejections = ImportRejection.objects.filter(batch=batch).order_by("line")
    for rejection in rejections.iterator(chunk_size=2000):
        raw = rejection.raw if isinstance(rejection.raw, dict) else {}
        values = [str(raw.get(column, "")) for column in COLUMNS]
        if not values[0]:
            values[0] = rejection.transaction_id
        yield [str(rejection.line), rejection.reason, *values]

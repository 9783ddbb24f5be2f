"""Point exports for the WESTER point system (SPEC R12): every ledger line is exported exactly once.

An export takes, in one statement, every ledger line of the campaign not yet exported
(reversals included, with negative points) and stamps it with the new export; the export
number is allocated under a lock on the campaign row, so two operators exporting at the
same moment get two numbers and never the same line twice. The file is regenerated from
the lines of the export, ordered by id, whenever it is downloaded; its SHA-256 is stored
at creation, so a re-download is checked to be byte for byte the file first sent.

File: CSV, header ``member_id,point_type,points,reason,ledger_line_id``, CRLF line ends,
in UTF-8 *without* BOM (what a system reads without surprise) or CP932 (Shift_JIS, for
Japanese tools). Reasons that CP932 cannot encode are written with ``?`` in their place.
A text cell starting like a spreadsheet formula (``= + - @``, tab, CR) is written with a leading
``'`` (``campaign.spreadsheet``); points stay numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Iterator

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Sum
from django.utils.translation import gettext, gettext_lazy

from campaign.audit import staff_action_record
from campaign.models import Campaign
from campaign.spreadsheet import row_escape
from missions.models import LedgerLine, PointExport

CHUNK_ROWS = 5000
ENCODINGS = {"utf-8": "UTF-8", "cp932": "CP932 (Shift_JIS)"}
HEADER = ["member_id", "point_type", "points", "reason", "ledger_line_id"]
NOTHING_TO_EXPORT = gettext_lazy("No ledger line is waiting to be exported: there is nothing to export.")

logger = logging.getLogger(__name__)


class ExportError(ValueError):
    pass


class ExportTampered(RuntimeError):
    """The lines of an export no longer produce the file that was first sent."""


def points_export_create(*, campaign: Campaign, user, encoding: str, empty_refused: bool = False) -> PointExport:
    """Export every ledger line of ``campaign`` not exported yet, as the next numbered export.

    An export with no new lines is still created (and numbered) unless ``empty_refused``: the
    admin's exports refuse it (``ExportError``), so that a double click or a second tab does not
    number an empty file that could be sent to the WESTER point system as if it carried points.
    """
    if encoding not in ENCODINGS:
        raise ExportError(f"Unknown encoding {encoding!r}: use one of {', '.join(ENCODINGS)}.")
    with transaction.atomic():
        # The lock on the campaign row serialises exports of this campaign.
        Campaign.objects.select_for_update().get(pk=campaign.pk)
        # Checked under the lock: of two exports at once, the second finds the lines taken.
        if empty_refused and not LedgerLine.objects.filter(campaign=campaign, export__isnull=True).exists():
            raise ExportError(str(NOTHING_TO_EXPORT))
        last = PointExport.objects.filter(campaign=campaign).aggregate(n=Max("number"))["n"] or 0
        export = PointExport.objects.create(
            campaign=campaign, number=last + 1, encoding=encoding, created_by=user if user and user.pk else None
        )
        # Set-based and conditional: a line already taken by another export is never taken again.
        line_count = LedgerLine.objects.filter(campaign=campaign, export__isnull=True).update(export=export)
        export.line_count = line_count
        export.points_total = export.lines.aggregate(total=Sum("points"))["total"] or 0
        digest = hashlib.sha256()
        for chunk in _chunks(export):
            digest.update(chunk)
        export.sha256 = digest.hexdigest()
        export.save(update_fields=["line_count", "points_total", "sha256"])
        staff_action_record(
            user=user,
            obj=export,
            # In the staff member's language when they asked in the request, else the site's (Japanese).
            message=gettext("Point export #%(number)s (%(encoding)s): %(lines)s ledger lines, %(points)s points")
            % {
                "number": export.number,
                "encoding": encoding,
                "lines": f"{line_count:,}",
                "points": f"{export.points_total:,}",
            },
        )
    return export


def points_export_later(*, campaign: Campaign, user, encoding: str) -> None:
    """Create the export in the background after the current transaction commits (a big ledger takes a while).

    Inline without a broker. The task is not retried: a lost one leaves no export, and the
    operator, seeing none in the list, asks again (a retry could number an empty export).
    """
    if encoding not in ENCODINGS:
        raise ExportError(f"Unknown encoding {encoding!r}: use one of {', '.join(ENCODINGS)}.")
    points_export_task.delay_on_commit(campaign.pk, user.pk if user else None, encoding)


@shared_task(acks_late=False, max_retries=0)
def points_export_task(campaign_id: int, user_id: int | None, encoding: str) -> None:
    campaign = Campaign.objects.get(pk=campaign_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        points_export_create(campaign=campaign, user=user, encoding=encoding, empty_refused=True)
    except ExportError as exc:
        # The lines went with another export asked for at the same time: nothing is lost.
        logger.info("point export not created: %s", exc)


def _chunks(export: PointExport, *, escaped: bool = True) -> Iterator[bytes]:
    """The file in pieces of CHUNK_ROWS lines, so a million-line export never sits in memory whole.

    Text cells that a spreadsheet would run as a formula are escaped (``campaign.spreadsheet``);
    ``escaped=False`` gives the file as exports made before that wrote it, for their checksum only.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    lines = (
        LedgerLine.objects.filter(export=export)
        .order_by("id")
        .values_list("member_id", "point_type", "points", "reason", "id")
    )
    for count, row in enumerate(lines.iterator(chunk_size=CHUNK_ROWS), start=1):
        writer.writerow(row_escape(row) if escaped else row)
        if count % CHUNK_ROWS == 0:
            yield _take(buffer, export.encoding)
    if buffer.tell():
        yield _take(buffer, export.encoding)


def _take(buffer: io.StringIO, encoding: str) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode(encoding, errors="replace")


def _render(export: PointExport) -> bytes:
    return b"".join(_chunks(export))


def point_export_stream(*, export: PointExport) -> Iterator[bytes]:
    """The export's file as it is sent: regenerated from its lines, checked against the stored SHA-256.

    A mismatch (a line changed since the export) stops the stream with ``ExportTampered``
    before its last piece, so the receiver never gets a complete file that differs.
    """
    digest = hashlib.sha256()
    pending = None
    for chunk in _chunks(export):
        if pending is not None:
            yield pending
        digest.update(chunk)
        pending = chunk
    if export.sha256 and digest.hexdigest() != export.sha256 and not _sent_unescaped(export):
        raise ExportTampered(f"Point export #{export.number} no longer matches the file first sent.")
    if pending is not None:
        yield pending


def _sent_unescaped(export: PointExport) -> bool:
    """Whether an export made before cells were escaped still has exactly its lines (its old checksum).

    Such a file is sent again escaped: its lines are intact, and a formula-shaped member id or
    reason must not run in the spreadsheet that opens the re-download.
    """
    digest = hashlib.sha256()
    for chunk in _chunks(export, escaped=False):
        digest.update(chunk)
    return digest.hexdigest() == export.sha256


def point_export_render(*, export: PointExport) -> bytes:
    """The export's file, regenerated from its lines; identical to the first download (checked)."""
    return b"".join(point_export_stream(export=export))


def point_export_filename(*, export: PointExport) -> str:
    return f"wester-points-{export.campaign.code}-{export.number:04d}-{export.encoding}.csv"

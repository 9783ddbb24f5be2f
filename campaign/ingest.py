"""Transaction ingestion: records from files and from the system API into the store (SPEC 3.1, 3.3, R9).

Both ways in share the row checks of ``campaign.importers`` and the same judgement of
duplicates: the same ``transaction_id`` with identical content is a duplicate (counted,
ignored), with different content a conflict (rejected; the stored record is kept), and
within one file or call the first occurrence wins. The unique ``transaction_id`` decides
between racing writers (``ON CONFLICT DO NOTHING``), so re-sending or re-importing changes
nothing.

On PostgreSQL a file goes through COPY into a temporary staging table and is merged
set-based; on SQLite (development) it is merged in batches through the ORM.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaign import clock
from campaign.importers import (
    COLUMNS,
    CsvScan,
    FileRefused,
    Record,
    RowSource,
    Window,
    copy_line_record,
    errors_reason,
    file_open,
    raw_row,
    record_check,
    record_fast,
    row_values,
)
from campaign.models import (
    Campaign,
    ImportBatch,
    ImportRejection,
    ImportStatus,
    Member,
    RecordSource,
    Transaction,
)
from campaign.services import CLOCK_SKEW, statistics_sample

logger = logging.getLogger(__name__)

API_MAX_RECORDS = 1000
CHUNK = 5000  # rows merged at once through the ORM (SQLite, API)
COPY_CHUNK = 50_000  # rows per COPY statement on PostgreSQL (progress is saved between them)
STAGE_PART_ROWS = 200_000  # rows per partition of a staged file, merged and committed at once (PostgreSQL)
STAGE_PARTS_MAX = 64
REJECTION_CHUNK = 1000
PROGRESS_EVERY = 10_000


@dataclass
class Rejection:
    """A record that was not stored: its line (file) or index (API), id, and errors by column."""

    index: int
    transaction_id: str
    errors: dict[str, list[str]]
    raw: dict = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return errors_reason(self.errors)


@dataclass
class IngestResult:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    member_ids: set[str] = field(default_factory=set)
    # CSV file: the ids of the file's rows only increased (none repeats); set once the file is read.
    ids_ascending: bool = False
    warnings: list[str] = field(default_factory=list)
    # Seconds per phase of a file import: stage and merge (PostgreSQL; the merge overlaps the scoring),
    # store (everything before the wait for the scoring), score (that wait, or the scoring itself).
    phases: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        return f"rows={self.rows} accepted={self.accepted} duplicates={self.duplicates} rejected={self.rejected}"


def window_for(campaign: Campaign) -> Window:
    return Window(
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        cutoff_at=campaign.data_cutoff_at,
        now=clock.now(),
        skew=CLOCK_SKEW,
    )


def _conflict_errors(transaction_id: str) -> dict[str, list[str]]:
    return {
        "transaction_id": [
            _(
                "transaction_id %(id)s was already received with different content; "
                "the stored record is kept (a conflict)."
            )
            % {"id": transaction_id}
        ]
    }


# --- the API ------------------------------------------------------------------------------


def _api_values(item: Any) -> tuple[list | None, dict[str, list[str]]]:
    """The COLUMNS values of one JSON record, or errors for values JSON allows but a record does not."""
    if not isinstance(item, dict):
        return None, {"non_field_errors": [_("Each transaction must be a JSON object.")]}
    values: list = []
    errors: dict[str, list[str]] = {}
    for column in COLUMNS:
        value = item.get(column)
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            values.append(value)
            continue
        if not isinstance(value, str):
            errors[column] = [_("%(column)s must be text or a number.") % {"column": column}]
        elif "\x00" in value or len(value) > 1000:
            errors[column] = [_("%(column)s contains a NUL character or is far too long.") % {"column": column}]
        else:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                errors[column] = [_("%(column)s is not valid Unicode text.") % {"column": column}]
        values.append(value)
    return values, errors


def transactions_ingest(
    *,
    campaign: Campaign,
    records: Iterable[Any],
    source: str = RecordSource.API,
    score: bool = True,
) -> IngestResult:
    """Store the records the system API sends (SPEC 3.3): check, merge, and re-score later.

    Each record is judged on its own: the answer lists the rejected ones by index; the
    others are stored (or counted as duplicates). Sending the same batch twice changes
    nothing the second time.
    """
    window = window_for(campaign)
    result = IngestResult()
    valid: list[tuple[int, Record]] = []
    for index, item in enumerate(records):
        result.rows += 1
        values, errors = _api_values(item)
        record = None
        if not errors:
            record, errors = record_check(values, window)
        if record is None:
            tid = item.get("transaction_id") if isinstance(item, dict) else None
            result.rejections.append(Rejection(index, tid if isinstance(tid, str) else str(tid or ""), errors))
        else:
            valid.append((index, record))
    with transaction.atomic():
        for start in range(0, len(valid), CHUNK):
            _merge_chunk(
                campaign=campaign, items=valid[start : start + CHUNK], source=source, batch=None, result=result
            )
        if score and result.member_ids:
            from missions.services import members_score_later

            members_score_later(campaign=campaign, member_ids=result.member_ids)
    result.rejections.sort(key=lambda r: r.index)
    result.rejected = len(result.rejections)
    return result


def _merge_chunk(
    *,
    campaign: Campaign,
    items: list[tuple[int, Record]],
    source: str,
    batch: ImportBatch | None,
    result: IngestResult,
) -> list[Rejection]:
    """Merge valid records through the ORM; returns the conflicts (also added to ``result``)."""
    firsts: dict[str, tuple[int, Record]] = {}
    later: list[tuple[int, Record]] = []
    for index, record in items:
        if record.transaction_id in firsts:
            later.append((index, record))
        else:
            firsts[record.transaction_id] = (index, record)

    def stored_content(ids: Iterable[str]) -> dict[str, tuple]:
        stored: dict[str, tuple] = {}
        ids = list(ids)
        for start in range(0, len(ids), 900):
            for row in Transaction.objects.filter(transaction_id__in=ids[start : start + 900]).values_list(*COLUMNS):
                stored[row[0]] = Record(*row).content()
        return stored

    before = stored_content(firsts)
    # In id order, so that two calls inserting overlapping ids wait for each other instead of deadlocking.
    new = sorted(
        ((index, record) for tid, (index, record) in firsts.items() if tid not in before),
        key=lambda item: item[1].transaction_id,
    )
    received_at = clock.now()
    if new:
        Member.objects.bulk_create(
            [Member(member_id=mid) for mid in sorted({record.member_id for _i, record in new})],
            ignore_conflicts=True,
            batch_size=1000,
        )
        Transaction.objects.bulk_create(
            [
                Transaction(
                    transaction_id=record.transaction_id,
                    campaign=campaign,
                    member_id=record.member_id,
                    type=record.type,
                    amount=record.amount,
                    points_used=record.points_used,
                    merchant_code=record.merchant_code,
                    occurred_at=record.occurred_at,
                    original_transaction_id=record.original_transaction_id,
                    charge_method=record.charge_method,
                    source=source,
                    import_batch=batch,
                    received_at=received_at,
                )
                for _index, record in new
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
    after = {**before, **stored_content(record.transaction_id for _i, record in new)}
    conflicts: list[Rejection] = []
    new_ids = {record.transaction_id for _i, record in new}
    for index, record in [*firsts.values(), *later]:
        same = after.get(record.transaction_id) == record.content()
        is_first = firsts[record.transaction_id][0] == index
        if same and is_first and record.transaction_id in new_ids:
            result.accepted += 1
            result.member_ids.add(record.member_id)
        elif same:
            result.duplicates += 1
        else:
            conflicts.append(Rejection(index, record.transaction_id, _conflict_errors(record.transaction_id)))
    result.rejections.extend(conflicts)
    return conflicts


# --- files --------------------------------------------------------------------------------


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

    ``scoring``: "later" enqueues the re-scoring of the members touched (the admin's
    task), "now" scores them before returning (the command), "none" leaves them.
    """
    if batch.status in (ImportStatus.DONE, ImportStatus.REFUSED):
        return batch
    path = Path(path) if path else Path(batch.file.path)
    ImportRejection.objects.filter(batch=batch).delete()  # a retried run starts over
    batch.status = ImportStatus.RUNNING
    batch.started_at = timezone.now()
    batch.rows_done = 0
    batch.message = ""  # a retried run's stage, not its last failure
    batch.save(update_fields=["status", "started_at", "rows_done", "message"])
    try:
        source = file_open(path)
        batch.rows_total = source.approx_rows or None
        ImportBatch.objects.filter(pk=batch.pk).update(rows_total=batch.rows_total)
        result = transactions_import(campaign=batch.campaign, source=source, batch=batch, scoring=scoring)
    except FileRefused as exc:
        ImportRejection.objects.filter(batch=batch).delete()
        batch.status = ImportStatus.REFUSED
        batch.message = str(exc)
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "message", "finished_at"])
        return batch
    except Exception as exc:
        logger.exception("Import #%s failed", batch.pk)
        batch.status = ImportStatus.FAILED
        batch.message = f"{type(exc).__name__}: {exc}"[:2000]
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "message", "finished_at"])
        raise
    batch.status = ImportStatus.DONE
    batch.rows_total = result.rows
    batch.rows_done = result.rows
    batch.accepted = result.accepted
    batch.duplicates = result.duplicates
    batch.rejected = result.rejected
    batch.warnings = result.warnings
    batch.message = result.summary()
    batch.finished_at = timezone.now()
    batch.save()
    batch.phases = result.phases  # not stored: for the command's timings
    return batch


def _row_judge(
    *, source: RowSource, window: Window, result: IngestResult, rejections: list[ImportRejection], batch: ImportBatch
) -> Callable[[int, list], Record | None]:
    """A function judging one row of the file as read: its Record, or None (a blank row, or a
    rejected one, which goes to ``rejections``). It counts the rows in ``result``.

    A full-width CSV row goes through ``record_fast`` first; anything else (XLSX cells,
    short rows, rows it is unsure of) through the complete check.
    """
    header = source.header
    width = len(header.names)
    pick = header.picker()
    fast = record_fast if source.kind == "csv" else None

    def judge(line: int, values: list) -> Record | None:
        if fast is not None and len(values) == width:
            values.append("")
            record = fast(pick(values), window)
            values.pop()
            if record is not None:
                result.rows += 1
                return record
        if not values or not any(v not in ("", None) for v in values):
            return None  # blank lines and spreadsheets' empty rows are not rows
        result.rows += 1
        picked, problem = row_values(values, header)
        record, errors = record_check(picked, window)
        if problem:
            errors = {"non_field_errors": [problem], **errors}
            record = None
        if record is None:
            result.rejected += 1
            rejections.append(
                ImportRejection(
                    batch=batch,
                    line=line,
                    transaction_id=str(picked[0] or "").strip()[:255],
                    reason=errors_reason(errors),
                    raw=raw_row(values, header),
                )
            )
        return record

    return judge


def _rows_checked(
    *, source: RowSource, window: Window, result: IngestResult, rejections: list[ImportRejection], batch: ImportBatch
) -> Iterator[tuple[int, Record]]:
    """The file's valid records with their line, in the file's order; rejected rows go to
    ``rejections`` as they come. A CSV file's common rows take the fast path of ``CsvScan``.
    """
    if source.kind == "csv":
        for lines, judged in _csv_scanned(
            source=source, window=window, result=result, rejections=rejections, batch=batch, size=CHUNK
        ):
            items = [copy_line_record(text) for text in lines] + judged
            if judged and lines:
                items.sort(key=_first)  # the first occurrence of an id wins: keep the file's order
            yield from items
        return
    rows = source.rows()
    judge = _row_judge(source=source, window=window, result=result, rejections=rejections, batch=batch)
    for line, values in rows:
        record = judge(line, values)
        if record is not None:
            yield line, record


def _first(item: tuple[int, Record]) -> int:
    return item[0]


_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_PG_MAX_OFFSET = timedelta(hours=15, minutes=59)


def _copy_line(line: int, record: Record) -> str:
    """A record as a line of COPY text (what psycopg's ``write_row`` would send).

    A time whose offset PostgreSQL cannot read (beyond ±15:59; Python reads up to ±23:59)
    is sent in UTC: the same instant, where it used to fail the whole import.
    """
    tid, mid, kind, amount, points, merchant, occurred, original, method = record
    if abs(occurred.utcoffset()) > _PG_MAX_OFFSET:
        occurred = occurred.astimezone(UTC)
    return (
        f"{line}\t{tid.translate(_COPY_ESCAPE)}\t{mid.translate(_COPY_ESCAPE)}\t{kind}\t{amount}\t{points}\t"
        f"{merchant.translate(_COPY_ESCAPE)}\t{occurred}\t{original.translate(_COPY_ESCAPE)}\t"
        f"{method.translate(_COPY_ESCAPE)}\n"
    )


def _copy_chunks(
    *, source: RowSource, window: Window, result: IngestResult, rejections: list[ImportRejection], batch: ImportBatch
) -> Iterator[list[str]]:
    """The valid rows as chunks of COPY text lines (at most COPY_CHUNK, or REJECTION_CHUNK rejected
    rows, per chunk); the rejected rows go to ``rejections``."""
    if source.kind != "csv":
        lines: list[str] = []
        for line, record in _rows_checked(
            source=source, window=window, result=result, rejections=rejections, batch=batch
        ):
            lines.append(_copy_line(line, record))
            if len(lines) >= COPY_CHUNK or len(rejections) >= REJECTION_CHUNK:
                yield lines
                lines = []
        yield lines
        return
    for lines, judged in _csv_scanned(
        source=source, window=window, result=result, rejections=rejections, batch=batch, size=COPY_CHUNK
    ):
        lines.extend(_copy_line(line, record) for line, record in judged)
        yield lines


def _csv_scanned(
    *,
    source: RowSource,
    window: Window,
    result: IngestResult,
    rejections: list[ImportRejection],
    batch: ImportBatch,
    size: int,
) -> Iterator[tuple[list[str], list[tuple[int, Record]]]]:
    """A CSV file in chunks: the COPY text lines of its common rows (``CsvScan``), and the valid
    records, with their line, of the rows the scan handed back (judged one by one)."""
    judge = _row_judge(source=source, window=window, result=result, rejections=rejections, batch=batch)
    scan = CsvScan(source, window)
    any_judged = False
    for lines, others in scan.chunks(size, REJECTION_CHUNK):
        result.rows += len(lines)
        judged = []
        for line, values in others:
            record = judge(line, values)
            if record is not None:
                judged.append((line, record))
        any_judged = any_judged or bool(judged)
        # Known only for the rows of the common form: a file with others may repeat an id among them.
        result.ids_ascending = scan.ids_ascending and not any_judged
        yield lines, judged


def _rejections_flush(rejections: list[ImportRejection]) -> None:
    if rejections:
        ImportRejection.objects.bulk_create(rejections)
        rejections.clear()


def transactions_import(
    *,
    campaign: Campaign,
    source: RowSource,
    batch: ImportBatch,
    scoring: str = "later",
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Import the rows of an opened file into ``campaign`` as ``batch`` (SPEC 3.1).

    Memory stays bounded whatever the file's size: rows are streamed, checked, and merged
    in chunks (SQLite) or staged through COPY and merged set-based (PostgreSQL). Rejected
    rows are written to ImportRejection as they come.
    """
    window = window_for(campaign)
    result = IngestResult()
    rejections: list[ImportRejection] = []
    started = time.monotonic()

    def save(done: int) -> None:
        ImportBatch.objects.filter(pk=batch.pk).update(rows_done=done)

    def report(done: int) -> None:
        save(done)
        if progress:
            progress(done)

    if connection.vendor == "postgresql":
        chunks = _copy_chunks(source=source, window=window, result=result, rejections=rejections, batch=batch)
        # The reader and the scoring processes are forked first, before the import opens anything
        # they must not share (its connection's temporary tables). Inside a caller's transaction, or
        # in a process that may not fork (a Celery worker's), a thread reads; the partitions are
        # then scored in this connection (or queued, for a worker).
        apart = not connection.in_atomic_block
        reader = _ChunkProcess if apart and may_fork() else _ChunkReader
        # Outside a caller's transaction the reader saves the progress itself, on a connection of its
        # own (the import's transaction would hide it), and the import only tells ``progress``.
        feed = reader(chunks=chunks, rejections=rejections, result=result, report=save if apart else None)
        told = (progress or _nothing) if apart else report
        scorer = None
        try:
            scorer = _PartScoring(campaign=campaign, mode=scoring)
            _import_postgresql(
                campaign=campaign,
                feed=feed,
                batch=batch,
                result=result,
                report=told,
                scoring=scorer,
                parts=_stage_parts(source.approx_rows),
            )
            result.phases["store"] = time.monotonic() - started
            waited = time.monotonic()
            scorer.finish()
        except BaseException:
            if scorer is not None:
                scorer.terminate()
            raise
        finally:
            feed.close()
        if scoring != "none":
            result.phases["score"] = time.monotonic() - waited
    else:
        valid = _rows_checked(source=source, window=window, result=result, rejections=rejections, batch=batch)
        with transaction.atomic():
            chunk: list[tuple[int, Record]] = []
            next_report = PROGRESS_EVERY
            for item in valid:
                chunk.append(item)
                if len(rejections) >= REJECTION_CHUNK:
                    _rejections_flush(rejections)
                if len(chunk) >= CHUNK:
                    _file_chunk_merge(campaign=campaign, chunk=chunk, batch=batch, result=result)
                    chunk = []
                    if result.rows >= next_report:
                        report(result.rows)
                        next_report = result.rows + PROGRESS_EVERY
            _file_chunk_merge(campaign=campaign, chunk=chunk, batch=batch, result=result)
            _rejections_flush(rejections)
        result.phases["store"] = time.monotonic() - started
        if scoring != "none":
            scoring_started = time.monotonic()
            _touched_score(campaign=campaign, batch=batch, now=scoring == "now")
            result.phases["score"] = time.monotonic() - scoring_started
    result.warnings = list(source.header.warnings) if source.header else []
    result.member_ids = set()  # the touched members are read back from the store, in chunks
    report(result.rows)
    logger.info("Import #%s: %s in %.1f s", batch.pk, result.summary(), time.monotonic() - started)
    return result


def _nothing(_done: int) -> None:
    pass


def _file_chunk_merge(
    *, campaign: Campaign, chunk: list[tuple[int, Record]], batch: ImportBatch, result: IngestResult
) -> None:
    if not chunk:
        return
    before = len(result.rejections)
    conflicts = _merge_chunk(campaign=campaign, items=chunk, source=RecordSource.FILE, batch=batch, result=result)
    del result.rejections[before:]
    result.member_ids.clear()
    result.rejected += len(conflicts)
    by_line = dict(chunk)
    ImportRejection.objects.bulk_create(
        [
            ImportRejection(
                batch=batch,
                line=conflict.index,
                transaction_id=conflict.transaction_id,
                reason=conflict.reason,
                raw=_record_raw(by_line[conflict.index]),
            )
            for conflict in conflicts
        ]
    )


def _record_raw(record: Record) -> dict[str, str]:
    return {
        column: (value.isoformat() if hasattr(value, "isoformat") else str(value))
        for column, value in zip(COLUMNS, record, strict=True)
    }


def may_fork() -> bool:
    """Whether this process may have child processes: a daemonic one (a Celery worker's) may not."""
    import multiprocessing

    return not multiprocessing.current_process().daemon


ANALYZE_AFTER = 50_000  # accepted rows after which an import refreshes the planner's statistics


def _touched_score(*, campaign: Campaign, batch: ImportBatch, now: bool) -> None:
    """Re-score the members whose transactions this import stored (SQLite), in chunks (bounded memory)."""
    from missions import services as scoring

    ids = (
        Transaction.objects.filter(import_batch=batch)
        .order_by("member_id")
        .values_list("member_id", flat=True)
        .distinct()
        .iterator(chunk_size=scoring.SCORE_CHUNK)
    )
    if now:  # the command: scored here and now, in the large chunks of a full re-score
        size = scoring.full_chunk_size()
        members = list(ids)
        chunks = [members[start : start + size] for start in range(0, len(members), size)]
        scoring.members_score(campaign=campaign, member_ids=[m for chunk in chunks for m in chunk])
        return
    chunk: list[str] = []  # queued: task-sized chunks, streamed
    for member_id in ids:
        chunk.append(member_id)
        if len(chunk) >= scoring.SCORE_CHUNK:
            scoring.members_score_later(campaign=campaign, member_ids=chunk)
            chunk = []
    if chunk:
        scoring.members_score_later(campaign=campaign, member_ids=chunk)


class _PartScoring:
    """What becomes of the members of each merged partition of a file (PostgreSQL).

    ``mode`` "now" (the command): scored at once, by forked processes while the import goes on
    (outside a caller's transaction, on a machine of several cores) or else here, in this
    connection; "later" (the admin's task): queued as scoring tasks once committed; "none": left.
    """

    def __init__(self, *, campaign: Campaign, mode: str) -> None:
        from missions.engine import ScoringPool
        from missions.rules import rules_load
        from missions.services import ScoreResult

        self.campaign, self.mode = campaign, mode
        self.result = ScoreResult()
        self.pool = None
        self.queued: list[list[str]] = []
        self.rules = rules_load(campaign=campaign) if mode == "now" else []
        jobs = os.cpu_count() or 1
        if mode == "now" and jobs > 1 and not connection.in_atomic_block and may_fork():
            self.pool = ScoringPool(campaign=campaign, rules=self.rules, jobs=jobs)

    def submit(self, member_ids: list[str], *, last: bool = False) -> None:
        """The members of a partition just merged, inside its transaction (``last``: the file's last one)."""
        from missions import services as scoring

        if not member_ids or self.mode == "none":
            return
        if self.mode == "later":
            scoring.members_score_later(campaign=self.campaign, member_ids=member_ids)  # task-sized chunks
            return
        ids = sorted(member_ids)
        size = scoring.full_chunk_size()
        if last and self.pool is not None:
            # Nothing is merged after it: every process takes a share of it, rather than one alone.
            size = min(size, -(-len(ids) // self.pool.jobs))
        chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
        if self.pool is not None:
            self.queued.extend(chunks)  # the processes see the records once they are committed
        else:
            from missions.engine import chunk_score

            for chunk in chunks:
                self.result.add(chunk_score(campaign=self.campaign, rules=self.rules, member_ids=chunk))

    def committed(self) -> None:
        """The partition's transaction has committed (or its savepoint been released)."""
        for chunk in self.queued:
            self.pool.submit(chunk)
        self.queued = []

    def finish(self) -> None:
        from missions import services as scoring

        if self.pool is not None:
            self.result.add(self.pool.finish())
            self.pool = None
        if self.result.members_scored > scoring.SCORE_CHUNK:
            scoring.scoring_statistics_refresh()

    def terminate(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool = None


# --- PostgreSQL: COPY into a staging table, merge set-based ---------------------------------

_STAGE_COLUMNS = "line, " + ", ".join(COLUMNS)
_SAME = (
    "(s.member_id, s.type, s.amount, s.points_used, s.merchant_code, s.occurred_at, "
    "s.original_transaction_id, s.charge_method) IS NOT DISTINCT FROM "
    "(t.member_id, t.type, t.amount, t.points_used, t.merchant_code, t.occurred_at, "
    "t.original_transaction_id, t.charge_method)"
)


def _stage_tell(batch: ImportBatch, done: int, parts: int) -> None:
    """Say on the running import (the admin page shows it) how many parts of the read file are stored."""
    message = _("File read and checked; %(done)s of %(parts)s parts stored.") % {"done": done, "parts": parts}
    ImportBatch.objects.filter(pk=batch.pk).update(message=message)


def _stage_bounds(parts: int) -> list[tuple[int, int]]:
    """(modulus, remainder) of each staging partition, in the order they are merged: ``parts`` equal
    ones, the last of them cut in two. The scoring left once every partition is merged is that of
    the last one: half a partition's."""
    return [(parts, part) for part in range(parts - 1)] + [(2 * parts, parts - 1), (2 * parts, 2 * parts - 1)]


def _stage_parts(approx_rows: int) -> int:
    """Partitions of the staged file: about STAGE_PART_ROWS rows each, at most STAGE_PARTS_MAX."""
    return max(1, min(STAGE_PARTS_MAX, -(-approx_rows // STAGE_PART_ROWS)))


_STAGE_TABLES = ("import_stage", "import_repeated")


def _import_postgresql(
    *,
    campaign: Campaign,
    feed: _ChunkReader | _ChunkProcess,
    batch: ImportBatch,
    result: IngestResult,
    report: Callable[[int], None],
    scoring: _PartScoring,
    parts: int,
) -> None:
    """Stage the whole file, then merge it partition by partition, scoring each as soon as it is in.

    Staging: the reader (``feed``) reads and checks the rows while the server copies the previous
    chunk into ``import_stage``, a temporary table hash-partitioned on the member. Merging: each
    partition (all the records of its members) is inserted and committed on its own, then handed to
    ``scoring``: forked processes score it while the next partition is inserted, so both cores
    work, where one inserting backend used to hold up the scoring of the whole file.

    The first partition is inserted while the file is read, chunk by chunk, as long as the file's
    ids have only increased (none of those rows can be a later occurrence of an id): the server
    has time to spare while the reader checks rows. Staging and that insert are one transaction,
    committed once the whole file is read: a file refused in the middle stores nothing. ``report``
    is told the rows read after each chunk (outside a caller's transaction the reader has saved
    them already, on a connection of its own, so the admin page sees the progress as it goes).
    """
    with connection.cursor() as cursor:
        for table in _STAGE_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            "CREATE TEMP TABLE import_stage (line integer, transaction_id varchar(64), member_id varchar(64), "
            "type varchar(8), amount bigint, points_used bigint, merchant_code varchar(64), "
            "occurred_at timestamptz, original_transaction_id varchar(64), charge_method varchar(16)) "
            "PARTITION BY HASH (member_id)"
        )
        bounds = _stage_bounds(parts)
        parts = len(bounds)
        for part, (modulus, remainder) in enumerate(bounds):
            cursor.execute(
                f"CREATE TEMP TABLE import_stage_{part} PARTITION OF import_stage "
                f"FOR VALUES WITH (MODULUS {modulus}, REMAINDER {remainder})"
            )
        try:
            started = time.monotonic()
            staged, inserted = 0, 0
            # The values every stored row of the file shares (_TX_INSERT's): one received_at for the file.
            params = [campaign.pk, RecordSource.FILE, batch.pk, clock.now()]
            early = _EarlyPart(cursor=cursor, params=params)
            with transaction.atomic():
                _merge_settings(cursor)
                for chunk in feed:
                    _rejections_flush(chunk.found)
                    if chunk.count:
                        with cursor.copy(f"COPY import_stage ({_STAGE_COLUMNS}) FROM STDIN") as copy:
                            copy.write(chunk.data)
                        staged += chunk.count
                        early.chunk(chunk.last_line, ascending=chunk.ascending)
                    report(result.rows)  # the progress saved here in a caller's transaction; else told
                inserted += early.inserted
                first_done = early.active and staged > 0  # the first partition is in whole
                if first_done:
                    _part_finish(
                        cursor=cursor,
                        part=0,
                        members=None,
                        scoring=scoring,
                        analyze=staged >= ANALYZE_AFTER,
                        last=parts == 1,
                    )
            if first_done:
                scoring.committed()
            merging = time.monotonic()
            result.phases["stage"] = merging - started
            if staged:
                _stage_tell(batch, 1 if first_done else 0, parts)
            repeated = 0
            if staged and not result.ids_ascending:
                # Ids that only increase through the file repeat none; otherwise the repeated ones,
                # with the line of their first occurrence (the one stored).
                with transaction.atomic():
                    _merge_settings(cursor)
                    cursor.execute(
                        "CREATE TEMP TABLE import_repeated AS SELECT transaction_id, min(line) AS first "
                        "FROM import_stage GROUP BY transaction_id HAVING count(*) > 1"
                    )
                    repeated = cursor.rowcount
            for part in range(1 if first_done else 0, parts if staged else 0):
                inserted += _part_merge(
                    cursor=cursor,
                    params=params,
                    part=part,
                    after_line=early.done_line if part == 0 else 0,
                    repeated=repeated > 0,
                    ordered=result.ids_ascending,
                    scoring=scoring,
                    analyze=part == 0 and staged >= ANALYZE_AFTER,
                    last=part == parts - 1,
                )
                _stage_tell(batch, part + 1, parts)
            result.accepted += inserted
            if inserted < staged:  # some rows repeat an id of the file or of the store: judge them
                with transaction.atomic():
                    _merge_settings(cursor)
                    _staged_judge(cursor=cursor, batch=batch, result=result, repeated=repeated > 0)
            result.phases["merge"] = time.monotonic() - merging
        finally:
            for table in _STAGE_TABLES:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")


class _EarlyPart:
    """The first partition's records inserted as the file is read, while its ids only increase.

    Rows whose ids have only increased since the top of the file are first occurrences, whatever
    follows. Each chunk's rows of the partition go in without ON CONFLICT; an id stored already
    (a file imported again) refuses the chunk, which is taken back, and the partition's remaining
    rows, past ``done_line``, are merged with the others.
    """

    def __init__(self, *, cursor, params: list) -> None:
        self.cursor = cursor
        self.params = params
        self.active = True
        self.done_line = 0
        self.inserted = 0

    def chunk(self, last: int, *, ascending: bool) -> None:
        """The rows staged up to line ``last`` (while ids increase, the chunk's rows are in the file's order)."""
        if not self.active:
            return
        if not ascending:
            self.active = False
            return
        where = f" WHERE s.line > {int(self.done_line)} AND s.line <= {last}"
        try:
            with transaction.atomic():
                # Only while the ids increase: the staged rows are in id order already.
                self.cursor.execute(_TX_INSERT.format(table="import_stage_0", where=where, order=""), self.params)
        except IntegrityError:
            self.active = False
            return
        self.inserted += self.cursor.rowcount
        self.done_line = last


class _Chunk(NamedTuple):
    """A chunk of the file for the COPY: its lines joined (``count`` of them, the last from line
    ``last_line`` when the ids increase), the rows rejected since the previous chunk, and whether
    the file's ids have only increased up to here."""

    data: str | bytes
    count: int
    last_line: int
    found: list
    ascending: bool


def _chunk_make(lines: list[str], rejections: list, result: IngestResult, *, encode: bool = False) -> _Chunk:
    found = list(rejections)
    rejections.clear()
    data = "".join(lines)
    last = int(lines[-1].split("\t", 1)[0]) if lines else 0
    return _Chunk(data.encode() if encode else data, len(lines), last, found, result.ids_ascending)


class _ChunkReader:
    """The chunks of COPY lines, read and checked one chunk ahead by a thread of their own.

    Yields ``_Chunk``s; an exception of the reader (a file refused in the middle) is raised here,
    in the caller's thread. ``report``, if given, saves the progress from the reader's thread (its
    own database connection). Used inside a caller's transaction (nothing may be forked then).
    """

    def __init__(self, *, chunks: Iterator[list[str]], rejections: list, result: IngestResult, report) -> None:
        import queue
        import threading

        from django.utils import translation

        self._language = translation.get_language()  # the reasons of rejected rows speak the caller's
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._chunks, self._rejections, self._result, self._report = chunks, rejections, result, report
        self._thread = threading.Thread(target=self._read, name="import-reader", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        from django.db import connections
        from django.utils import translation

        translation.activate(self._language)
        try:
            for lines in self._chunks:
                if not self._put(("chunk", _chunk_make(lines, self._rejections, self._result))):
                    return
                if self._report is not None:
                    self._report(self._result.rows)
            if self._rejections:
                self._put(("chunk", _chunk_make([], self._rejections, self._result)))
            self._put(("end", None))
        except BaseException as exc:  # handed to the caller's thread
            self._put(("error", exc))
        finally:
            connections.close_all()  # this thread's own connection, if the progress opened one

    def __iter__(self) -> Iterator[_Chunk]:
        while True:
            kind, payload = self._queue.get()
            if kind == "error":
                raise payload
            if kind == "end":
                return
            yield payload

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class _ChunkProcess:
    """The chunks of COPY lines, read and checked one chunk ahead by a forked process of its own.

    The same as ``_ChunkReader``, but the rows are checked on a core of their own: as a thread the
    reader (1.6 s of Python per million rows) held the interpreter's lock that the thread sending
    the chunks to the server needed too, and the server waited for it half the time. The process
    sends each chunk already encoded, with the counts of rows read and rejected; it saves the
    progress (``report``) on a connection of its own. The caller's connections are closed before
    the fork (reopened on next use): the process must not share them.
    """

    def __init__(self, *, chunks: Iterator[list[str]], rejections: list, result: IngestResult, report) -> None:
        import multiprocessing

        from django.db import connections
        from django.utils import translation

        connections.close_all()
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._ahead = context.Semaphore(2)  # chunks sent and not yet taken, as the thread's queue
        self._result = result
        self._process = context.Process(
            target=_chunks_send,
            args=(chunks, rejections, result, report, send, self._ahead, translation.get_language()),
            name="import-reader",
            daemon=True,
        )
        self._process.start()
        send.close()  # the process holds the sending end: at its end, ours reads EOF

    def __iter__(self) -> Iterator[_Chunk]:
        while True:
            try:
                message = self._receive.recv()
            except EOFError:
                raise RuntimeError("The import's reader process ended unexpectedly.") from None
            kind, payload = message[0], message[1]
            self._ahead.release()
            if kind == "error":
                raise payload
            self._result.rows, self._result.rejected, self._result.ids_ascending = message[2:]
            if kind == "end":
                if payload.found:
                    yield payload
                return
            yield payload

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._receive.close()


def _chunks_send(chunks, rejections: list, result: IngestResult, report, send, ahead, language: str) -> None:
    """The reader process: each chunk of the file, checked, sent through ``send`` (see ``_ChunkProcess``)."""
    import pickle

    from django.db import connections
    from django.utils import translation

    translation.activate(language)

    def put(kind: str, payload) -> None:
        ahead.acquire()  # at most two chunks ahead of the caller
        if kind == "chunk" and report is not None:  # saved first: the caller, told of it, finds it saved
            report(result.rows)
        send.send((kind, payload, result.rows, result.rejected, result.ids_ascending))

    try:
        for lines in chunks:
            put("chunk", _chunk_make(lines, rejections, result, encode=True))
        put("end", _chunk_make([], rejections, result, encode=True))
    except BaseException as exc:  # handed to the caller, as it is if it can be
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        put("error", exc)
    finally:
        connections.close_all()  # this process's own connection, if the progress opened one
        send.close()


def _merge_settings(cursor) -> None:
    """For the merge's transaction: a partition's sort stays in memory; no JIT (it cost more than it saved)."""
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL jit = off")


_TX_INSERT = (
    "INSERT INTO campaign_transaction (transaction_id, campaign_id, member_id, type, amount, points_used, "
    "merchant_code, occurred_at, original_transaction_id, charge_method, source, import_batch_id, received_at) "
    "SELECT s.transaction_id, %s, s.member_id, s.type, s.amount, s.points_used, s.merchant_code, s.occurred_at, "
    "s.original_transaction_id, s.charge_method, %s, %s, %s::timestamptz FROM {table} s{where}{order}"
)
# In id order the unique index fills page by page; a file whose ids increase is staged in that order.
_TX_ORDER = ' ORDER BY s.transaction_id COLLATE "C"'


def _part_merge(
    *,
    cursor,
    params: list,
    part: int,
    after_line: int,
    repeated: bool,
    ordered: bool,
    scoring: _PartScoring,
    analyze: bool,
    last: bool,
) -> int:
    """Insert one staged partition's new records (past ``after_line``) and members in a transaction of
    its own, then hand its members to ``scoring``; returns how many records were inserted.
    ``params`` are the values every stored row of the file shares (campaign, source, import, received_at).

    A record repeating an id of the file goes in only at its first occurrence. A partition of new
    ids (the usual case) goes in without ON CONFLICT's check per row; an id stored already refuses
    that attempt, and the insert runs again skipping the stored ids and returning the members it
    did insert for (a file imported again scores nobody). In id order (``ordered``: the staged rows
    are in that order already) the unique index fills page by page.
    """
    table = f"import_stage_{part}"
    conditions = [f"s.line > {int(after_line)}"] if after_line else []
    if repeated:
        conditions.append(
            "NOT EXISTS (SELECT 1 FROM import_repeated r WHERE r.transaction_id = s.transaction_id "
            "AND r.first <> s.line)"
        )
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    insert = _TX_INSERT.format(table=table, where=where, order="" if ordered else _TX_ORDER)
    with transaction.atomic():
        _merge_settings(cursor)
        members: list[str] | None = None  # those of the staged partition
        try:
            with transaction.atomic():
                cursor.execute(insert, params)
            inserted = cursor.rowcount
        except IntegrityError:
            cursor.execute(
                f"WITH written AS ({insert} ON CONFLICT (transaction_id) DO NOTHING RETURNING member_id) "
                "SELECT member_id, count(*) FROM written GROUP BY member_id",
                params,
            )
            counted = cursor.fetchall()
            inserted = sum(count for _member, count in counted)
            members = [member for member, _count in counted]
            if after_line:  # the rows inserted while the file was read are this partition's too
                cursor.execute(f"SELECT DISTINCT member_id FROM {table} WHERE line <= %s", [after_line])
                members = sorted({*members, *(row[0] for row in cursor.fetchall())})
        _part_finish(cursor=cursor, part=part, members=members, scoring=scoring, analyze=analyze, last=last)
    scoring.committed()
    return inserted


def _part_finish(
    *, cursor, part: int, members: list[str] | None, scoring: _PartScoring, analyze: bool, last: bool
) -> None:
    """In the partition's transaction, once its records are in: its new members, the planner's
    statistics (``analyze``), and its members handed to ``scoring`` (None: every staged one)."""
    table = f"import_stage_{part}"
    # New members are added in their records' transaction (no one sees either alone).
    cursor.execute(
        "INSERT INTO campaign_member (member_id, created_at) "
        f"SELECT DISTINCT s.member_id, %s::timestamptz FROM {table} s "
        "WHERE NOT EXISTS (SELECT 1 FROM campaign_member m WHERE m.member_id = s.member_id) "
        "ORDER BY 1 ON CONFLICT (member_id) DO NOTHING",
        [timezone.now()],
    )
    if analyze:
        # A large import leaves the planner's statistics behind (a table it believes empty):
        # scoring planned on them walked a million rows through the wrong index.
        statistics_sample(cursor, Transaction._meta.db_table)
    if members is None and scoring.mode != "none":
        cursor.execute(f"SELECT DISTINCT member_id FROM {table}")
        members = [row[0] for row in cursor.fetchall()]
    scoring.submit(members or [], last=last)  # inline scoring (in a caller's transaction) runs here


def _staged_judge(*, cursor, batch: ImportBatch, result: IngestResult, repeated: bool) -> None:
    """Count the staged rows that were not inserted as duplicates or conflicts (and report the conflicts).

    A row was inserted when the stored record is this import's and the row is its id's first
    occurrence in the file; any other row is a duplicate of the stored record or a conflict with it.
    """
    first = (
        "coalesce((SELECT r.first FROM import_repeated r WHERE r.transaction_id = s.transaction_id), s.line)"
        if repeated
        else "s.line"
    )
    judged = (
        f"SELECT s.*, {_SAME} AS same FROM import_stage s "
        "JOIN campaign_transaction t ON t.transaction_id = s.transaction_id "
        f"WHERE NOT (coalesce(t.import_batch_id, 0) = %(batch)s AND s.line = {first})"
    )
    cursor.execute(
        f"SELECT count(*) FILTER (WHERE same), count(*) FILTER (WHERE NOT same) FROM ({judged}) j",
        {"batch": batch.pk},
    )
    duplicates, conflicts = cursor.fetchone()
    result.duplicates += duplicates
    result.rejected += conflicts
    if conflicts:
        marker = "@@ID@@"
        template = _conflict_errors(marker)["transaction_id"][0]
        cursor.execute(
            "INSERT INTO campaign_importrejection (batch_id, line, transaction_id, reason, raw) "
            "SELECT %(batch)s, j.line, j.transaction_id, replace(%(template)s, %(marker)s, j.transaction_id), "
            "json_build_object('transaction_id', j.transaction_id, 'member_id', j.member_id, 'type', j.type, "
            "'amount', j.amount::text, 'points_used', j.points_used::text, 'merchant_code', j.merchant_code, "
            "'occurred_at', j.occurred_at, 'original_transaction_id', j.original_transaction_id, "
            "'charge_method', j.charge_method) "
            f"FROM ({judged}) j WHERE NOT j.same",
            {"batch": batch.pk, "template": template, "marker": marker},
        )


def rejections_csv_rows(*, batch: ImportBatch) -> Iterator[list[str]]:
    """The error report: line, reason, then the row as read under the columns of SPEC 3.1.

    Operations can correct the rows in the report and import it as it is: the ``line`` and
    ``reason`` columns are ignored (with a warning) and the others are the file's columns.
    """
    yield ["line", "reason", *COLUMNS]
    for rejection in ImportRejection.objects.filter(batch=batch).order_by("line").iterator(chunk_size=2000):
        raw = rejection.raw if isinstance(rejection.raw, dict) else {}
        values = [str(raw.get(column, "")) for column in COLUMNS]
        if not values[0]:
            values[0] = rejection.transaction_id
        yield [str(rejection.line), rejection.reason, *values]


def import_upload_create(*, campaign: Campaign, upload, user) -> tuple[ImportBatch, ImportBatch | None]:
    """Store an uploaded file as a new import, record who did it, and run it after commit.

    Returns the batch and an earlier finished import of the same file (same SHA-256), if
    any: importing it again is allowed (it changes nothing) but the page says so.
    """
    from django.contrib.admin.models import ADDITION

    from campaign.audit import staff_action_record
    from campaign.tasks import import_batch_run as import_batch_run_task

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
            message=f"Uploaded {batch.file_name} ({batch.size_bytes} bytes, SHA-256 {batch.sha256}) for import",
            action_flag=ADDITION,
        )
        import_batch_run_task.delay_on_commit(batch.pk)
    return batch, earlier

"""Records pushed by the system API (SPEC 3.3), stored by the same judgement as files.

Each record is checked alone (``record_check``); the valid ones go in by ``INSERT … ON CONFLICT
DO NOTHING RETURNING``, so the answer counts a record ``accepted`` only when this call's insert
stored it: of concurrent calls sending the same record exactly one says accepted, the others
duplicate. Within one call the first occurrence of an id wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from campaign import clock
from campaign.imports.checking import (
    COLUMNS,
    Record,
    RecordCounts,
    column_label,
    errors_reason,
    record_check,
    window_for,
)
from campaign.imports.merging import conflict_reason
from campaign.models import Campaign, Member, RecordSource, Transaction
from missions.services import scoring_due_mark
from missions.tasks import members_score_later

API_MAX_RECORDS = 1000
INSERT_CHUNK = 500


@dataclass
class Rejection:
    """A record that was not stored: its index in the call, id, and errors by column."""

    index: int
    transaction_id: str
    errors: dict[str, list[str]]

    @property
    def reason(self) -> str:
        return errors_reason(self.errors)


@dataclass
class IngestResult(RecordCounts):
    rejections: list[Rejection] = field(default_factory=list)
    member_ids: set[str] = field(default_factory=set)


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
            errors[column] = [_("%(column)s must be text or a number.") % {"column": column_label(column)}]
        elif "\x00" in value or len(value) > 1000:
            errors[column] = [
                _("%(column)s contains a NUL character or is far too long.") % {"column": column_label(column)}
            ]
        else:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                errors[column] = [_("%(column)s is not valid Unicode text.") % {"column": column_label(column)}]
        values.append(value)
    return values, errors


def transactions_ingest(
    *, campaign: Campaign, records: Iterable[Any], source: str = RecordSource.API, score: bool = True
) -> IngestResult:
    """Store the records the system API sends: each judged alone, the valid ones stored or counted
    as duplicates, the touched members re-scored after commit. Sending a batch twice changes nothing."""
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
            shown = tid if isinstance(tid, str) else str(tid or "")
            result.rejections.append(Rejection(index, shown[:255], errors))
        else:
            valid.append((index, record))
    with transaction.atomic():
        _records_store(campaign=campaign, items=valid, source=source, result=result)
        if result.member_ids:  # due with their records, whatever becomes of the task sent after commit
            scoring_due_mark(campaign_id=campaign.pk, member_ids=result.member_ids)
        if score and result.member_ids:
            members_score_later(campaign=campaign, member_ids=result.member_ids)
    result.rejections.sort(key=lambda r: r.index)
    result.rejected = len(result.rejections)
    return result


def _records_store(*, campaign: Campaign, items: list[tuple[int, Record]], source: str, result: IngestResult) -> None:
    """Insert the first occurrence of each id, in id order (racing calls wait for each other rather
    than deadlock); what the insert did not store is a duplicate or a conflict of the stored record."""
    firsts: dict[str, tuple[int, Record]] = {}
    for index, record in items:
        firsts.setdefault(record.transaction_id, (index, record))
    new = sorted(firsts.values(), key=lambda item: item[1].transaction_id)
    if new:
        Member.objects.bulk_create(
            [Member(member_id=mid) for mid in sorted({record.member_id for _i, record in new})],
            ignore_conflicts=True,
            batch_size=1000,
        )
    stored: set[str] = set()
    received_at = connection.ops.adapt_datetimefield_value(clock.now())
    for start in range(0, len(new), INSERT_CHUNK):
        stored |= _insert_returning(new[start : start + INSERT_CHUNK], campaign, source, received_at)
    result.member_ids |= _originals_members(
        {r.original_transaction_id for _i, r in new if r.type == "cancel" and r.transaction_id in stored}
    )
    others = [(index, record) for index, record in items if record.transaction_id not in stored]
    kept = _stored_content({record.transaction_id for _i, record in others})
    for index, record in items:
        tid = record.transaction_id
        if tid in stored and firsts[tid][0] == index:
            result.accepted += 1
            result.member_ids.add(record.member_id)
        elif (kept.get(tid) if tid not in stored else firsts[tid][1].content()) == record.content():
            result.duplicates += 1
        else:
            result.rejections.append(Rejection(index, tid, {"transaction_id": [conflict_reason(tid)]}))


def _insert_returning(chunk: list[tuple[int, Record]], campaign: Campaign, source: str, received_at) -> set[str]:
    adapt = connection.ops.adapt_datetimefield_value
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
    params: list = []
    for _index, r in chunk:
        params += [r.transaction_id, campaign.pk, r.member_id, r.type, r.amount, r.points_used, r.merchant_code]
        params += [adapt(r.occurred_at), r.original_transaction_id, r.charge_method, source, received_at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Transaction._meta.db_table} (transaction_id, campaign_id, member_id, type, amount, "
            "points_used, merchant_code, occurred_at, original_transaction_id, charge_method, source, received_at) "
            f"VALUES {rows} ON CONFLICT (transaction_id) DO NOTHING RETURNING transaction_id",
            params,
        )
        return {row[0] for row in cursor.fetchall()}


def _originals_members(originals: set[str]) -> set[str]:
    """The members of the stored transactions these cancels name. A cancel voids its original whoever
    sent it (R8), so the original's member is scored again too: else a cancel sent with another member
    id left the stamp until that member's next record, and the outcome hung on the order of arrival."""
    return {member for (member,) in _stored_rows(originals, "member_id")}


def _stored_content(ids: set[str]) -> dict[str, tuple]:
    return {row[0]: Record(*row).content() for row in _stored_rows(ids, *COLUMNS)}


def _stored_rows(ids: set[str], *fields: str) -> Iterator[tuple]:
    """``fields`` of the stored transactions with these ids, asked 900 ids at a time (SQLite's bound parameters)."""
    listed = sorted(ids)
    for start in range(0, len(listed), 900):
        yield from Transaction.objects.filter(transaction_id__in=listed[start : start + 900]).values_list(*fields)

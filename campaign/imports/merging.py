"""A file's valid rows into the store: staged, then merged set-based (SPEC 3.1).

The rows go into a temporary staging table as they are read: on PostgreSQL by psycopg's own
``cursor.copy`` and ``write_row``, on SQLite by ``executemany``. Then one transaction stores the
new members and every staged row whose id is not stored yet, in id order, the first occurrence of
an id winning (``INSERT … SELECT … ON CONFLICT DO NOTHING``: the unique ``transaction_id`` decides
between racing writers). Only when fewer rows went in than were staged are the others judged, set
based, against the stored records: the same content is a duplicate, different content a conflict
(a rejected row; the stored record is kept).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from campaign.models import ImportRejection, RecordSource, Transaction
from campaign.services import statistics_sample

STAGE = "import_stage"
STAGE_COLUMNS = (
    "line, transaction_id, member_id, type, amount, points_used, merchant_code, occurred_at, "
    "original_transaction_id, charge_method"
)
ANALYZE_AFTER = 50_000  # inserted rows after which the planner's statistics are refreshed (PostgreSQL)

_SAME = (
    "(s.member_id, s.type, s.amount, s.points_used, s.merchant_code, s.occurred_at, "
    "s.original_transaction_id, s.charge_method) IS NOT DISTINCT FROM "
    "(t.member_id, t.type, t.amount, t.points_used, t.merchant_code, t.occurred_at, "
    "t.original_transaction_id, t.charge_method)"
)


def conflict_reason(transaction_id: str) -> str:
    return _(
        "transaction_id %(id)s was already received with different content; the stored record is kept (a conflict)."
    ) % {"id": transaction_id}


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


class Stage:
    """The staging table of one import, on this connection: ``write`` rows, ``flush`` between chunks.

    Rows are ``(line, *Record)``. On PostgreSQL a COPY is opened at the first row of a chunk and
    finished by ``flush`` (no other statement may run on the connection meanwhile); the server
    parses what is sent while the next rows are checked. On SQLite a chunk's rows are inserted at once.
    """

    def __init__(self) -> None:
        self.cursor = connection.cursor()
        self.rows = 0
        self._copy = None
        self._open = ExitStack()
        self._pending: list[tuple] = []
        time_type = "timestamptz" if _postgresql() else "text"
        self.cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        self.cursor.execute(
            f"CREATE TEMP TABLE {STAGE} (line integer, transaction_id varchar(64), member_id varchar(64), "
            f"type varchar(8), amount bigint, points_used bigint, merchant_code varchar(64), "
            f"occurred_at {time_type}, original_transaction_id varchar(64), charge_method varchar(16))"
        )
        self.write = self._copy_write if _postgresql() else self._pending.append

    def _copy_write(self, row: tuple) -> None:
        if self._copy is None:
            self._copy = self._open.enter_context(self.cursor.cursor.copy(f"COPY {STAGE} ({STAGE_COLUMNS}) FROM STDIN"))
            self.write = self._copy.write_row
        self._copy.write_row(row)

    def flush(self) -> None:
        if self._copy is not None:
            self._open.close()  # ends the COPY: the server has every row of the chunk
            self.rows += self.cursor.cursor.rowcount
            self._copy = None
            self.write = self._copy_write
        elif self._pending:
            adapt = connection.ops.adapt_datetimefield_value
            self.cursor.executemany(
                f"INSERT INTO {STAGE} ({STAGE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(*row[:7], adapt(row[7]), *row[8:]) for row in self._pending],
            )
            self.rows += len(self._pending)
            self._pending.clear()

    def close(self) -> None:
        self._open.close()
        self.cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        self.cursor.close()


@dataclass
class Merged:
    """What the merge of a staged file did: rows stored, duplicates, conflicts, the members to score."""

    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    member_ids: list[str] | None = None


def stage_merge(*, stage: Stage, campaign_id: int, batch_id: int, received_at: datetime) -> Merged:
    """Store the staged rows, inside the caller's transaction; judge the rest only if any is left."""
    cursor = stage.cursor
    merged = Merged()
    if not stage.rows:
        merged.member_ids = []
        return merged
    if _postgresql():
        cursor.execute("SET LOCAL work_mem = '256MB'")  # the sort by id stays in memory
        cursor.execute("SET LOCAL jit = off")  # it cost more than it saved on these statements
    cursor.execute(
        "INSERT INTO campaign_member (member_id, created_at) "
        f"SELECT DISTINCT member_id, %s FROM {STAGE} WHERE true ORDER BY 1 ON CONFLICT (member_id) DO NOTHING",
        [connection.ops.adapt_datetimefield_value(received_at)],
    )
    insert = (
        "INSERT INTO campaign_transaction (transaction_id, campaign_id, member_id, type, amount, points_used, "
        "merchant_code, occurred_at, original_transaction_id, charge_method, source, import_batch_id, received_at) "
        "SELECT s.transaction_id, %s, s.member_id, s.type, s.amount, s.points_used, s.merchant_code, "
        f"s.occurred_at, s.original_transaction_id, s.charge_method, %s, %s, %s FROM {STAGE} s WHERE true "
        "ORDER BY s.transaction_id, s.line"  # (ids are in C collation) racing writers lock in one order
    )
    params = [campaign_id, RecordSource.FILE, batch_id, connection.ops.adapt_datetimefield_value(received_at)]
    try:
        # A file of new ids (the usual case) goes in without ON CONFLICT's check of every row, a third
        # faster; any id stored before or repeated in the file refuses it, and the merge below decides.
        with transaction.atomic():
            cursor.execute(insert, params)
        merged.accepted = stage.rows
        cursor.execute(f"SELECT DISTINCT member_id FROM {STAGE} ORDER BY 1")
        merged.member_ids = [row[0] for row in cursor.fetchall()]
    except IntegrityError:
        _conflicts_merge(cursor=cursor, insert=insert, params=params, merged=merged)
    if merged.accepted < stage.rows:
        _staged_judge(cursor=cursor, batch_id=batch_id, merged=merged)
    if _postgresql() and merged.accepted >= ANALYZE_AFTER:
        # The planner would otherwise score on statistics of a table it believes far smaller.
        statistics_sample(cursor, Transaction._meta.db_table)
    return merged


def _conflicts_merge(*, cursor, insert: str, params: list, merged: Merged) -> None:
    """Insert the staged rows whose ids are new, the first occurrence winning; count them and their members."""
    insert += " ON CONFLICT (transaction_id) DO NOTHING RETURNING member_id"
    if _postgresql():  # counted and grouped by the server: a million ids need not come back
        cursor.execute(f"WITH new AS ({insert}) SELECT member_id, count(*) FROM new GROUP BY member_id", params)
        counted = cursor.fetchall()
        merged.accepted = sum(count for _member, count in counted)
        merged.member_ids = sorted(member for member, _count in counted)
    else:
        cursor.execute(insert, params)
        members = [row[0] for row in cursor.fetchall()]
        merged.accepted = len(members)
        merged.member_ids = sorted(set(members))


def _staged_judge(*, cursor, batch_id: int, merged: Merged) -> None:
    """Judge the staged rows that were not stored: each is a later occurrence of an id of the file
    or an id stored before; the same content as the stored record is a duplicate, other content a
    conflict, written to the report with its line."""
    judged = (
        f"SELECT s.*, {_SAME} AS same FROM (SELECT x.*, min(x.line) OVER (PARTITION BY x.transaction_id) AS first "
        f"FROM {STAGE} x) s JOIN campaign_transaction t ON t.transaction_id = s.transaction_id "
        "WHERE NOT (coalesce(t.import_batch_id, 0) = %s AND s.line = s.first)"
    )
    cursor.execute(
        f"SELECT count(*) FILTER (WHERE same), count(*) FILTER (WHERE NOT same) FROM ({judged}) j", [batch_id]
    )
    merged.duplicates, merged.conflicts = (int(n or 0) for n in cursor.fetchone())
    if not merged.conflicts:
        return
    marker = "@@ID@@"
    build = "json_build_object" if _postgresql() else "json_object"
    amount = "j.amount::text" if _postgresql() else "CAST(j.amount AS text)"
    points = "j.points_used::text" if _postgresql() else "CAST(j.points_used AS text)"
    cursor.execute(
        f"INSERT INTO {ImportRejection._meta.db_table} (batch_id, line, transaction_id, reason, raw) "
        "SELECT %s, j.line, j.transaction_id, replace(%s, %s, j.transaction_id), "
        f"{build}('transaction_id', j.transaction_id, 'member_id', j.member_id, 'type', j.type, "
        f"'amount', {amount}, 'points_used', {points}, 'merchant_code', j.merchant_code, "
        "'occurred_at', j.occurred_at, 'original_transaction_id', j.original_transaction_id, "
        f"'charge_method', j.charge_method) FROM ({judged}) j WHERE NOT j.same",
        [batch_id, conflict_reason(marker), marker, batch_id],
    )

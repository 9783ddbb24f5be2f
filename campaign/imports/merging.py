"""A file's valid rows into the store: staged, then merged set-based (SPEC 3.1).

The rows go into a temporary staging table as they are read: on PostgreSQL by psycopg's own
``cursor.copy`` and ``write_row`` (binary COPY), on SQLite by ``executemany``. A file refused part
way has stored nothing by then. The staged rows are then merged in slices of whole members, in
member order, each slice one transaction: its new members and every row of it whose id is not
stored yet (``INSERT … SELECT``, in id order so that racing writers lock alike; the unique
``transaction_id`` decides between them). Each committed slice is handed to the scoring tasks at
once, so the workers score it while the next slice goes in. An id repeated in the file keeps its
first occurrence (found set-based, unless the file's ids only increased). Only when fewer rows
went in than were staged are the others judged against the stored records: the same content is
a duplicate, other content a conflict (a rejected row; the stored record is kept). Should the
database fail part way, the slices merged are kept whole and importing the file again stores the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from campaign.models import ImportRejection, Member, RecordSource, Transaction
from campaign.services import statistics_sample
from missions.services import scoring_due_mark

STAGE = "import_stage"
REPEATED = "import_repeated"
STAGE_COLUMNS = (
    "line, transaction_id, member_id, type, amount, points_used, merchant_code, occurred_at, "
    "original_transaction_id, charge_method"
)
_BINARY_TYPES = [
    "int4",
    "varchar",
    "varchar",
    "varchar",
    "int8",
    "int8",
    "varchar",
    "timestamptz",
    "varchar",
    "varchar",
]
SLICE_ROWS = 500_000  # staged rows merged (and committed) at once; the workers score one while the next goes in
ANALYZE_AFTER = 50_000  # staged rows after which the first slice refreshes the planner's statistics (PostgreSQL)

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


TEMP_BUFFERS = "256MB"


def _temp_buffers(cursor) -> None:
    """Let the session keep a large staging table in memory: with the default 8 MB of temporary
    buffers, each pass over a million staged rows went through the operating system and the merge
    took two and a half times as long. Only possible before the session's first temporary table
    (then it stays as it is); allocated as used, freed with the connection."""
    try:
        with transaction.atomic():
            cursor.execute(f"SET temp_buffers = '{TEMP_BUFFERS}'")
    except DatabaseError:
        pass


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
        time_type, ids = ("timestamptz", 'varchar(64) COLLATE "C"') if _postgresql() else ("text", "varchar(64)")
        if _postgresql():
            _temp_buffers(self.cursor)
        for table in (STAGE, REPEATED):
            self.cursor.execute(f"DROP TABLE IF EXISTS {table}")
        self.cursor.execute(
            f"CREATE TEMP TABLE {STAGE} (line integer, transaction_id {ids}, member_id {ids}, "
            f"type varchar(8), amount bigint, points_used bigint, merchant_code varchar(64), "
            f"occurred_at {time_type}, original_transaction_id varchar(64), charge_method varchar(16))"
        )
        self.write = self._copy_write if _postgresql() else self._pending.append

    def _copy_write(self, row: tuple) -> None:
        if self._copy is None:
            self._copy = self._open.enter_context(
                self.cursor.cursor.copy(f"COPY {STAGE} ({STAGE_COLUMNS}) FROM STDIN (FORMAT BINARY)")
            )
            self._copy.set_types(_BINARY_TYPES)
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
        for table in (STAGE, REPEATED):
            self.cursor.execute(f"DROP TABLE IF EXISTS {table}")
        self.cursor.close()


@dataclass
class Merged:
    """What the merge of a staged file did: rows stored, duplicates, conflicts, slices merged."""

    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    slices: int = 0


def stage_merge(
    *,
    stage: Stage,
    campaign_id: int,
    batch_id: int,
    received_at: datetime,
    ascending: bool,
    on_slice: Callable[[list[str], int, int], None],
) -> Merged:
    """Merge the staged rows slice by slice (see the module); ``on_slice(members, done, slices)`` is
    told the members whose records each committed slice stored. ``ascending``: the file's ids only
    increased, so none repeats."""
    cursor = stage.cursor
    merged = Merged()
    if not stage.rows:
        return merged
    repeated = False
    if not ascending:
        cursor.execute(
            f"CREATE TEMP TABLE {REPEATED} AS SELECT transaction_id, min(line) AS first FROM {STAGE} "
            "GROUP BY transaction_id HAVING count(*) > 1"
        )
        repeated = bool(cursor.rowcount)
    slices = _slices(cursor)
    merged.slices = len(slices)
    params = [campaign_id, RecordSource.FILE, batch_id, connection.ops.adapt_datetimefield_value(received_at)]
    for done, (first, last, members) in enumerate(slices, start=1):
        with transaction.atomic():
            stored = _slice_insert(
                cursor, first=first, last=last, members=members, params=params, repeated=repeated, ascending=ascending
            )
            merged.accepted += stored[0]
            # Due with their records: scored even if the scoring sent after the commit is lost.
            scoring_due_mark(campaign_id=campaign_id, member_ids=stored[1])
            if done == 1 and _postgresql() and stage.rows >= ANALYZE_AFTER:
                # The scoring of the slices would otherwise be planned on a table believed far smaller.
                statistics_sample(cursor, Transaction._meta.db_table)
        on_slice(stored[1], done, len(slices))
    # A cancel voids its original whoever sent it (R8): the original's member, when another, is scored too.
    cursor.execute(
        f"SELECT DISTINCT o.member_id FROM {STAGE} c "
        "JOIN campaign_transaction o ON o.transaction_id = c.original_transaction_id "
        "WHERE c.type = 'cancel' AND o.member_id <> c.member_id ORDER BY o.member_id"
    )
    others = [row[0] for row in cursor.fetchall()]
    if others:
        with transaction.atomic():
            scoring_due_mark(campaign_id=campaign_id, member_ids=others)
        on_slice(others, len(slices), len(slices))
    if merged.accepted < stage.rows:
        with transaction.atomic():
            _staged_judge(cursor=cursor, batch_id=batch_id, merged=merged)
    return merged


def _slices(cursor) -> list[tuple[str, str, list[str]]]:
    """The staged members in order, cut into slices of about SLICE_ROWS rows: (first, last, members).
    (Counted by the database: a count per member kept by the reader cost it a fifth more time.)"""
    cursor.execute(f"SELECT member_id, count(*) FROM {STAGE} GROUP BY member_id ORDER BY member_id")
    slices, members, rows = [], [], 0
    for member, count in cursor.fetchall():
        members.append(member)
        rows += count
        if rows >= SLICE_ROWS:
            slices.append((members[0], members[-1], members))
            members, rows = [], 0
    if members:
        slices.append((members[0], members[-1], members))
    return slices


def _slice_insert(
    cursor, *, first: str, last: str, members: list[str], params: list, repeated: bool, ascending: bool
) -> tuple[int, list[str]]:
    """Insert a slice's new members and records; (records stored, members whose records were stored).

    The records go in in id order (in C collation, as the stored ids), so that racing writers lock
    alike: sorted, unless the file's ids only increased, when the staged rows are in that order already
    (a temporary table is scanned from its first block, in the order it was written)."""
    within = "s.member_id >= %s AND s.member_id <= %s"
    if _postgresql():
        cursor.execute("SET LOCAL work_mem = '256MB'")  # a sort by id, or the repeated ids' anti-join, in memory
        cursor.execute("SET LOCAL jit = off")  # it cost more than it saved on these statements
        # The commit need not wait for the disk: a later commit (the batch's) does, and should the server
        # fail first, the batch is left unfinished and importing the file again stores what was lost.
        cursor.execute("SET LOCAL synchronous_commit = off")
    if _postgresql():  # the slice's members are known: no pass over the staged rows, no model objects
        cursor.execute(
            "INSERT INTO campaign_member (member_id, created_at) SELECT unnest(%s::varchar[]), %s "
            "ON CONFLICT (member_id) DO NOTHING",
            [members, params[3]],
        )
    else:
        Member.objects.bulk_create([Member(member_id=member) for member in members], ignore_conflicts=True)
    if repeated:  # a later occurrence of an id of the file never goes in
        within += (
            f" AND NOT EXISTS (SELECT 1 FROM {REPEATED} r WHERE r.transaction_id = s.transaction_id "
            "AND r.first <> s.line)"
        )
    insert = (
        "INSERT INTO campaign_transaction (transaction_id, campaign_id, member_id, type, amount, points_used, "
        "merchant_code, occurred_at, original_transaction_id, charge_method, source, import_batch_id, received_at) "
        "SELECT s.transaction_id, %s, s.member_id, s.type, s.amount, s.points_used, s.merchant_code, "
        f"s.occurred_at, s.original_transaction_id, s.charge_method, %s, %s, %s FROM {STAGE} s WHERE {within}"
        + ("" if ascending else " ORDER BY s.transaction_id")
    )
    try:
        # A slice of new ids (the usual case) goes in without ON CONFLICT's check of every row, a third
        # faster; an id stored before refuses it, and the insert runs again skipping the stored ids.
        with transaction.atomic():
            cursor.execute(insert, [*params, first, last])
        return cursor.rowcount, members
    except IntegrityError:
        pass
    insert += " ON CONFLICT (transaction_id) DO NOTHING RETURNING member_id"
    if _postgresql():  # counted and grouped by the server
        cursor.execute(
            f"WITH new AS ({insert}) SELECT member_id, count(*) FROM new GROUP BY member_id", [*params, first, last]
        )
        counted = cursor.fetchall()
        return sum(count for _member, count in counted), sorted(member for member, _count in counted)
    cursor.execute(insert, [*params, first, last])
    stored = [row[0] for row in cursor.fetchall()]
    return len(stored), sorted(set(stored))


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
    # SQLite stages the time as UTC text without an offset, which a report imported again would read as JST.
    occurred = "j.occurred_at" if _postgresql() else "j.occurred_at || '+00:00'"
    cursor.execute(
        f"INSERT INTO {ImportRejection._meta.db_table} (batch_id, line, transaction_id, reason, raw) "
        "SELECT %s, j.line, j.transaction_id, replace(%s, %s, j.transaction_id), "
        f"{build}('transaction_id', j.transaction_id, 'member_id', j.member_id, 'type', j.type, "
        f"'amount', {amount}, 'points_used', {points}, 'merchant_code', j.merchant_code, "
        f"'occurred_at', {occurred}, 'original_transaction_id', j.original_transaction_id, "
        f"'charge_method', j.charge_method) FROM ({judged}) j WHERE NOT j.same",
        [batch_id, conflict_reason(marker), marker, batch_id],
    )

"""Rules about members and the records that arrive for them: the id rule, the time a rule judges, refusals."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.db import connection, connections
from django.utils.translation import gettext as _

from campaign.env import JST
from campaign.identifiers import id_problem
from campaign.models import Campaign, Member, Transaction

# A record from the app may be stamped a little ahead of the portal's clock.
CLOCK_SKEW = timedelta(minutes=5)


class Refused(Exception):
    """A request the campaign's rules refuse; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def statistics_sample(cursor, tables: str) -> None:
    """ANALYZE ``tables`` on a small sample (3,000 rows each), inside the caller's transaction.

    Right after a bulk write the planner needs only the tables' sizes and rough spreads (without
    them it planned on a table it believed empty); autovacuum's full sample replaces these later.
    """
    cursor.execute("SET LOCAL default_statistics_target = 10")
    cursor.execute(f"ANALYZE {tables}")


def rows_estimate(queryset) -> int | None:
    """PostgreSQL's estimate of the rows ``queryset`` returns (EXPLAIN, no row read); None elsewhere.

    The planner's figure: the table's size from pg_class (reltuples, kept by autovacuum and ANALYZE)
    times the selectivity of the filters from the column statistics. Milliseconds at any size.
    """
    db = connections[queryset.db]
    if db.vendor != "postgresql":
        return None
    sql, params = queryset.query.sql_with_params()
    with db.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def import_statistics_refresh() -> None:
    """After an import, the planner's figures of the transactions' import column (PostgreSQL).

    Autovacuum analyses the table after a tenth of it changed: at 30 million transactions a daily
    file of a million rows stays invisible to the planner, which then expects no row of the new
    import and scans the whole table for the admin's "transactions of import N" (seconds) instead of
    walking the newest rows (milliseconds). One column's ANALYZE: a sample of 30,000 rows, about a second.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Transaction._meta.db_table} (import_batch_id)")


def member_id_check(member_id: object) -> str:
    """The member id, stripped, or ``Refused`` by the shared id rule (``campaign.identifiers``).

    1–64 printable ASCII characters without spaces, not starting like a spreadsheet formula
    (``= + - @``, tab, CR), so that no export opened in Excel runs it.
    """
    value = member_id.strip() if isinstance(member_id, str) else member_id
    problem = id_problem(value, member=True)
    if problem == "formula":
        raise Refused(
            "invalid_member_id",
            _("A member ID may not start with =, +, -, @, a tab or a carriage return (a spreadsheet formula)."),
        )
    if problem is not None:
        raise Refused("invalid_member_id", _("A member ID is 1 to 64 letters, digits or symbols, without spaces."))
    return value


def record_time_judge(*, campaign: Campaign, when: datetime | None, received_at: datetime, what: str) -> datetime:
    """The time a rule judges: the one the app recorded, else the portal's clock (SPEC 3.3)."""
    judged = when or received_at
    if judged > received_at + CLOCK_SKEW:
        raise Refused("in_future", _("The %(what)s time %(when)s is in the future.") % {"what": what, "when": judged})
    if not campaign.in_entry_window(judged):
        raise Refused(
            "outside_window",
            _("%(what)s is only possible from %(start)s until %(end)s (Japan time).")
            % {
                "what": what.capitalize(),
                "start": campaign.entry_starts_at.astimezone(JST).strftime("%Y-%m-%d %H:%M"),
                "end": (campaign.entry_ends_at - timedelta(seconds=1)).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"),
            },
        )
    if not campaign.accepts_data_at(received_at):
        # R9: nothing arrives after the cut-off, however it is dated; a late entry or view would still be
        # scored and awarded after the books are closed (and the draw's list frozen).
        raise Refused("after_cutoff", after_cutoff_reason(campaign.data_cutoff_at))
    return judged


def after_cutoff_reason(cutoff_at: datetime) -> str:
    """R9's refusal of a record that arrives after the data cut-off, for transactions, entries and views alike."""
    cutoff = cutoff_at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")
    return _("Received after the data cut-off (%(cutoff)s): records are no longer accepted.") % {"cutoff": cutoff}


def member_get_or_create(*, member_id: str) -> Member:
    member, _created = Member.objects.get_or_create(member_id=member_id_check(member_id))
    return member

"""Issue 17 §2: a worker SIGKILLed in the middle of scoring a large chunk, and a worker whose
database connection is ended in the middle of one: every member ends exactly as a fresh re-score.

The chunk is one task of every member (``members_score`` takes them as one set-based chunk on
PostgreSQL, one transaction). The test holds the outbox row of the chunk's first member locked, so
the chunk waits inside its transaction (temporary tables made, members copied in, cards locked):
the fault strikes there, whatever the machine's load, and the lock is let go after it.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
import pytest
import redis
from django.db import OperationalError, connection

from missions.engine import _Chunk
from missions.models import ScoringDue, StampCard
from missions.rules import rules_load
from missions.tasks import members_score_task
from tests.faults.processes import assert_scored_exactly, records_stored, wait_for, worker_backends

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 4000


@contextmanager
def _first_member_held(member_id: str):
    """Hold the member's outbox row locked from a connection of our own (the chunk locks it FOR UPDATE)."""
    with psycopg.connect(**connection.get_connection_params()) as holder:
        holder.execute(f"SELECT 1 FROM {ScoringDue._meta.db_table} WHERE member_id = %s FOR UPDATE", [member_id])
        yield


def _chunk_waiting(campaign, ids: list[str]) -> int:
    """Send the chunk's task; the pid of the worker's backend once it waits on the held lock, mid-transaction."""
    members_score_task.delay(campaign.pk, ids)

    def waiting() -> int | None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s) AND wait_event_type = 'Lock'",
                [[pid for pid, _state, _query in worker_backends()]],
            )
            row = cursor.fetchone()
        return row[0] if row else None

    return wait_for(waiting, seconds=30, what="the chunk to wait on the held member", every=0.05)


def test_a_worker_killed_while_scoring_a_large_chunk_loses_and_doubles_nothing(
    in_campaign, own_broker, workers, tmp_path
):
    ids = records_stored(in_campaign, tmp_path, members=MEMBERS, prefix="K")
    worker = workers()
    with _first_member_held(ids[0]):
        _chunk_waiting(in_campaign, ids)
        worker.kill()
    # The chunk's transaction never committed: nothing half-written, every member still due.
    assert not StampCard.objects.exists() and ScoringDue.objects.count() == MEMBERS
    # acks_late: the broker keeps the task unacknowledged, handed out again after the visibility timeout.
    assert redis.Redis.from_url(own_broker.url()).hlen("unacked") == 1
    workers(beat=True, PORTAL_SCORING_SWEEP_AFTER="0")  # restarted; its beat's sweep finds them due
    wait_for(lambda: not ScoringDue.objects.exists(), seconds=60, what="the sweep scoring the members", every=0.2)
    assert_scored_exactly(in_campaign, members=MEMBERS)


def test_a_database_connection_ended_during_scoring_is_retried_to_the_exact_result(
    in_campaign, own_broker, workers, tmp_path
):
    ids = records_stored(in_campaign, tmp_path, members=MEMBERS, prefix="D")
    workers()  # no beat: nothing but the task's own retry can score them
    with _first_member_held(ids[0]):
        backend = _chunk_waiting(in_campaign, ids)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
            assert cursor.fetchone()[0]
    wait_for(lambda: not ScoringDue.objects.exists(), seconds=60, what="the retried task", every=0.2)
    assert backend not in {pid for pid, _state, _query in worker_backends()}  # a new connection scored them
    assert_scored_exactly(in_campaign, members=MEMBERS)


def test_a_connection_ended_under_the_chunks_copy_is_an_error_the_task_retries(in_campaign, services):
    """The chunk's COPY is psycopg's own: an ended connection there must still surface as Django's
    OperationalError, which members_score_task retries (it escaped as psycopg's AdminShutdown)."""
    rules = rules_load(campaign=in_campaign)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
            with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
            with pytest.raises(OperationalError) as ended:
                _Chunk(cursor, campaign=in_campaign, rules=rules).rows_insert("_members", [("M1",)])
    finally:
        connection.close()  # the ended one: the test's teardown opens a new one
    assert isinstance(ended.value, members_score_task.autoretry_for)

"""Issue 17 §2: a worker SIGKILLed in the middle of scoring a large chunk, and a worker whose
database connection is ended in the middle of one: every member ends exactly as a fresh re-score.

The chunk is one task of every member (``members_score`` takes them as one set-based chunk on
PostgreSQL, one transaction, a second or two): the fault strikes once that transaction has begun.
"""

from __future__ import annotations

import pytest
import redis
from django.db import connection

from missions.models import ScoringDue, StampCard
from missions.tasks import members_score_task
from tests.faults.processes import (
    assert_scored_exactly,
    records_stored,
    scoring_statement_running,
    wait_for,
    worker_backends,
)

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 4000


def _chunk_started(campaign, ids: list[str]) -> int:
    """Send the chunk's task; the pid of the worker's backend once it is inside the chunk's transaction."""
    members_score_task.delay(campaign.pk, ids)
    return wait_for(scoring_statement_running, seconds=30, what="the chunk's scoring to begin", every=0.01)


def test_a_worker_killed_while_scoring_a_large_chunk_loses_and_doubles_nothing(
    in_campaign, own_broker, workers, tmp_path
):
    ids = records_stored(in_campaign, tmp_path, members=MEMBERS, prefix="K")
    worker = workers()
    _chunk_started(in_campaign, ids)
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
    backend = _chunk_started(in_campaign, ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        assert cursor.fetchone()[0]
    assert not StampCard.objects.exists()  # ended inside the chunk: nothing of it committed
    wait_for(lambda: not ScoringDue.objects.exists(), seconds=60, what="the retried task", every=0.2)
    assert backend not in {pid for pid, _state, _query in worker_backends()}  # a new connection scored them
    assert_scored_exactly(in_campaign, members=MEMBERS)

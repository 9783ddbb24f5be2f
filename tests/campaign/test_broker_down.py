"""Issue 17 §1 at the edge: a push whose records are stored answers 200 even when the broker is down.

Before, the scoring task was sent in an on-commit hook with ``delay_on_commit``: kombu's
``OperationalError`` (Redis refusing the connection) escaped after the commit, the client got a
500 for records that were stored, retried, and was told ``duplicates``. The broker here is a
closed port: nothing listens on 127.0.0.1:1.
"""

from __future__ import annotations

import pytest

from campaign.celery import app
from campaign.env import JST
from campaign.models import Entry, Transaction
from campaign.observability import counters_read
from missions.models import ScoringDue, Stamp
from missions.tasks import scoring_due_sweep
from tests.campaign.factories import EntryFactory

CLOSED_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def broker_down(transactional_db, monkeypatch):
    """Tasks go to a broker that refuses every connection (not inline); commits are real, so the
    on-commit hook that sends the task runs inside the request, as in production."""
    eager, url = app.conf.task_always_eager, app.conf.broker_url
    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_BROKER)  # Celery reads the variable before its setting
    app.conf.task_always_eager, app.conf.broker_url = False, CLOSED_BROKER
    # Producers are pooled per broker connection: forget any made for the configured broker.
    app._pool = app.amqp._producer_pool = None
    yield
    app.conf.task_always_eager, app.conf.broker_url = eager, url
    app._pool = app.amqp._producer_pool = None


def _failures() -> int:
    return counters_read(["broker_enqueue_failures"]).get("broker_enqueue_failures", 0)


def test_a_push_is_answered_with_its_counts_when_the_broker_refuses_the_scoring(
    system_client, in_campaign, broker_down
):
    before = _failures()
    record = {
        "transaction_id": "BROKER-1",
        "member_id": "M-BROKER",
        "type": "charge",
        "amount": 100000,
        "occurred_at": "2026-03-05T10:00:00+09:00",
    }
    response = system_client.post("/api/v1/transactions", {"transactions": [record]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert Transaction.objects.filter(transaction_id="BROKER-1").exists()
    assert _failures() == before + 1

    again = system_client.post("/api/v1/transactions", {"transactions": [record]}, format="json")
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert ScoringDue.objects.filter(member_id="M-BROKER").exists()  # kept due for the sweep


def test_the_sweep_scores_a_push_whose_task_the_broker_refused_once_it_is_back(
    system_client, in_campaign, broker_down, clock
):
    EntryFactory(member__member_id="M-SWEEP")
    record = {"transaction_id": "SWEEP-1", "member_id": "M-SWEEP", "type": "charge", "amount": 100000}
    record["occurred_at"] = "2026-03-05T10:00:00+09:00"
    assert system_client.post("/api/v1/transactions", {"transactions": [record]}, format="json").status_code == 200
    assert not Stamp.objects.filter(member_id="M-SWEEP").exists()  # the task never reached a worker
    app.conf.task_always_eager = True  # the broker is back (tasks run here, as a worker would run them)
    assert scoring_due_sweep() == 0  # not due long enough: its own task may still be on the way
    clock(in_campaign.starts_at.astimezone(JST).replace(day=15, hour=12, minute=2))
    assert scoring_due_sweep() == 1
    cleared = set(Stamp.objects.filter(member_id="M-SWEEP", cleared=True).values_list("mission__code", flat=True))
    assert {"mania-10", "mania-9", "mania-7", "casual-1"} <= cleared
    assert not ScoringDue.objects.exists()


def test_an_entry_is_answered_201_when_the_broker_refuses_the_scoring(system_client, in_campaign, broker_down):
    response = system_client.post("/api/v1/entries", {"member_id": "M-BROKER-2"}, format="json")
    assert response.status_code == 201
    assert Entry.objects.filter(member_id="M-BROKER-2").exists()


def test_without_a_broker_scoring_still_runs_inline_and_its_errors_propagate(
    transactional_db, in_campaign, monkeypatch
):
    from missions import tasks as scoring

    def boom(**_kwargs):
        raise RuntimeError("scoring failed")

    monkeypatch.setattr(scoring, "members_score", boom)
    monkeypatch.setattr("missions.tasks.members_score", boom)
    with pytest.raises(RuntimeError, match="scoring failed"):
        scoring.members_score_later(campaign=in_campaign, member_ids=["M1"])

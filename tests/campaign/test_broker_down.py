"""Issue 17 §1 at the edge: a push whose records are stored answers 200 even when the broker is down.

Before, the scoring task was sent in an on-commit hook with ``delay_on_commit``: kombu's
``OperationalError`` (Redis refusing the connection) escaped after the commit, the client got a
500 for records that were stored, retried, and was told ``duplicates``. The broker here is a
closed port: nothing listens on 127.0.0.1:1.
"""

from __future__ import annotations

import pytest

from campaign.celery import app
from campaign.models import Entry, Transaction
from campaign.observability import counters_read

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

"""/metrics (issue 17 §3): Prometheus text for staff or a token, with what operations watch."""

from __future__ import annotations

import uuid

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from campaign.celery import app
from campaign.metrics import scoring_lag
from campaign.models import ImportBatch, ImportStatus
from conftest import need
from missions.services import members_score, scoring_due_mark
from tests.campaign.factories import TransactionFactory

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests"


@pytest.fixture
def scrape(client, settings):
    settings.PORTAL_METRICS_TOKEN = TOKEN

    def read() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return read


def test_metrics_are_refused_without_the_token_or_a_staff_login(client, settings, admin_client):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert admin_client.get("/metrics").status_code == 200


def test_without_a_token_setting_no_bearer_opens_the_metrics(client, settings):
    settings.PORTAL_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_records_of_a_push_are_counted_by_outcome(system_client, in_campaign, scrape):
    def api(outcome):
        return scrape().get(("portal_records_total", (("outcome", outcome), ("source", "api"))), 0)

    before = {outcome: api(outcome) for outcome in ("accepted", "duplicates", "rejected")}
    record = {"transaction_id": "MT-1", "member_id": "M1", "type": "charge", "amount": 500}
    record["occurred_at"] = "2026-03-05T10:00:00+09:00"
    system_client.post("/api/v1/transactions", {"transactions": [record, record, {"member_id": "M1"}]}, format="json")
    system_client.post("/api/v1/transactions", {"transactions": [record]}, format="json")
    after = {outcome: api(outcome) for outcome in ("accepted", "duplicates", "rejected")}
    assert {k: after[k] - before[k] for k in after} == {"accepted": 1, "duplicates": 2, "rejected": 1}


def test_request_latency_is_measured_by_view(system_client, in_campaign, scrape):
    system_client.get("/api/v1/members/M1/progress")
    metrics = scrape()
    key = ("portal_request_duration_seconds_count", (("method", "GET"), ("view", "api-member-progress")))
    assert metrics[key] >= 1


def test_imports_are_counted_by_state_and_their_rows_by_outcome(campaign, scrape):
    for status, accepted in [(ImportStatus.DONE, 10), (ImportStatus.DONE, 5), (ImportStatus.FAILED, 0)]:
        ImportBatch.objects.create(
            campaign=campaign, file_name="t.csv", sha256="0" * 64, status=status, accepted=accepted
        )
    metrics = scrape()
    assert metrics[("portal_imports", (("state", "done"),))] == 2
    assert metrics[("portal_imports", (("state", "failed"),))] == 1
    assert metrics[("portal_imports", (("state", "running"),))] == 0
    assert metrics[("portal_records_total", (("outcome", "accepted"), ("source", "file")))] == 15


def test_scoring_lag_is_how_long_the_member_due_longest_has_waited(in_campaign, scrape, clock):
    assert scoring_lag() == (0.0, 0)
    for member_id, when in (("LAG1", "2026-03-15T11:50:00+09:00"), ("LAG2", "2026-03-15T11:59:00+09:00")):
        clock(when)
        TransactionFactory(member__member_id=member_id)
        scoring_due_mark(campaign_id=in_campaign.pk, member_ids=[member_id])
    clock("2026-03-15T12:00:00+09:00")
    assert scoring_lag() == (600.0, 2)
    metrics = scrape()
    assert metrics[("portal_scoring_lag_seconds", ())] == 600.0
    assert metrics[("portal_members_due_for_scoring", ())] == 2
    members_score(campaign=in_campaign, member_ids=["LAG1", "LAG2"])
    assert scoring_lag() == (0.0, 0)


def test_a_task_that_fails_is_counted_by_name(in_campaign, scrape, monkeypatch):
    from missions import tasks

    name = tasks.members_score_task.name
    before = scrape().get(("portal_celery_task_failures_total", (("task", name),)), 0)
    monkeypatch.setattr(tasks, "members_score", lambda **_: (_ for _ in ()).throw(RuntimeError("boom")))
    # As a worker runs it: the error is the task's outcome, not raised to the caller.
    assert tasks.members_score_task.apply(args=[in_campaign.pk, ["M1"]], throw=False).failed()
    assert scrape()[("portal_celery_task_failures_total", (("task", name),))] == before + 1


def test_the_queue_length_is_read_from_the_broker(settings, scrape):
    need("Redis", settings.CELERY_BROKER_URL.startswith("redis"), "set CELERY_BROKER_URL=redis://… to run this test")
    queue = f"metrics-test-{uuid.uuid4().hex}"
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        broker.lpush(queue, "a", "b", "c")
        broker.lpush(queue + "\x06\x166", "d")
        assert scrape()[("portal_celery_queue_length", ())] == 4
    finally:
        broker.delete(queue, queue + "\x06\x166")
        app.conf.task_default_queue = previous

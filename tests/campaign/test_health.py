"""/healthz and /readyz (issue 17 §3): JSON for a load balancer and a probe."""

from __future__ import annotations

import pytest

from missions.services import scoring_due_mark
from tests.campaign.factories import TransactionFactory

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_asking_any_service(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_probes_are_answered_over_plain_http_for_any_host(client, settings):
    # A probe calls the container by its address, before the proxy: no redirect, no host check.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["stamprally.example.jp"]
    assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/api/v1/campaign", HTTP_HOST="10.0.0.7:8000").status_code == 400  # the rest still checks


def test_readyz_reports_each_service_it_checked(client, settings):
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    expected = {"database", "cache"} | ({"broker"} if settings.CELERY_BROKER_URL.startswith("redis") else set())
    assert set(body["checks"]) == expected
    assert all(check["ok"] and check["ms"] >= 0 for check in body["checks"].values())
    assert body["scoring"] == {"lag_seconds": 0.0, "members_due": 0}


def test_readyz_is_503_naming_the_cache_when_redis_is_down(client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"]["ok"] is False and body["checks"]["database"]["ok"] is True


def test_readyz_is_503_naming_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "ok": False,
        "error": "ConnectionError",
        "ms": pytest.approx(0, abs=2000),
    }


def test_readyz_shows_the_scoring_lag_of_a_record_not_scored_yet(client, in_campaign, clock):

    clock("2026-03-15T11:58:00+09:00")
    stored = TransactionFactory()
    scoring_due_mark(campaign_id=in_campaign.pk, member_ids=[stored.member_id])  # as a push or import does
    clock("2026-03-15T12:00:00+09:00")
    body = client.get("/readyz").json()
    assert body["status"] == "ok"  # a lag is reported, not a reason to leave the balancer
    assert body["scoring"] == {"lag_seconds": 120.0, "members_due": 1}

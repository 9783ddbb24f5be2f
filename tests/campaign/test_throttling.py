"""The API's per-client rate limit: a counter per window, the same rates, scopes and 429."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from campaign.auth import api_client_create
from campaign.throttling import WindowScopedRateThrottle

pytestmark = pytest.mark.django_db

PROGRESS = "/api/v1/members/M0000001/progress"


@pytest.fixture
def three_per_minute(monkeypatch):
    cache.clear()
    rates = {"system": "3/min", "member": "3/min", "anon": "3/min"}
    monkeypatch.setattr(WindowScopedRateThrottle, "THROTTLE_RATES", rates)
    yield
    cache.clear()


@pytest.fixture
def at(monkeypatch):
    """Set the throttle's clock (seconds)."""

    def set_time(seconds: float) -> None:
        monkeypatch.setattr(WindowScopedRateThrottle, "timer", lambda self: seconds)

    return set_time


def test_a_client_gets_the_rate_per_window_then_429_with_retry_after(system_client, campaign, three_per_minute, at):
    at(6000.0 + 45)  # 45 s into a minute
    statuses = [system_client.get(PROGRESS).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = system_client.get(PROGRESS)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 15
    at(6000.0 + 60)  # the next minute
    assert system_client.get(PROGRESS).status_code == 200


def test_each_client_has_its_own_count(system_client, campaign, three_per_minute, at):
    at(1200.0)
    _user, key = api_client_create(name="other-system")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert [system_client.get(PROGRESS).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert other.get(PROGRESS).status_code == 200


def test_the_cache_holds_one_count_per_client_and_window(campaign, three_per_minute, at):
    """One integer per client and window (not a list of request times), on any cache backend."""
    at(600.0)
    user, key = api_client_create(name="counted-system")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.get(PROGRESS)
    client.get(PROGRESS)
    assert cache.get(f"throttle_system_{user.pk}:10") == 2  # minute 10 of the clock
    assert cache.get(f"throttle_system_{user.pk}:9") is None

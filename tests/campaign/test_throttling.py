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


def _client_of(name: str):
    user, key = api_client_create(name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return user, client


def test_a_large_rate_is_taken_from_the_cache_in_leases(campaign, at, monkeypatch):
    """1,000/min: leases of 10, so 25 requests take 3 leases of the shared count: 4 cache calls
    (the window's first opens it: an increment of no key, then an add), not 25."""
    cache.clear()
    monkeypatch.setattr(WindowScopedRateThrottle, "THROTTLE_RATES", {"system": "1000/min"})
    at(600.0)
    user, client = _client_of("leasing-system")
    calls = []
    for name in ("incr", "add"):
        original = getattr(cache, name)
        monkeypatch.setattr(cache, name, lambda *a, _original=original, **k: calls.append(a) or _original(*a, **k))
    assert {client.get(PROGRESS).status_code for _ in range(25)} == {200}
    assert cache.get(f"throttle_system_{user.pk}:10") == 30
    assert len(calls) == 4


def test_leases_never_let_a_client_past_the_rate_across_processes(campaign, at, monkeypatch):
    """300/min, leases of 3, two processes (each its own leases): the one that took a lease and
    made one request holds two; the other is refused 2 requests before the rate, never after it."""
    from campaign import throttling

    cache.clear()
    monkeypatch.setattr(WindowScopedRateThrottle, "THROTTLE_RATES", {"system": "300/min"})
    at(1800.0)
    _user, client = _client_of("two-process-system")
    first, second = {}, {}

    def in_process(leases: dict, requests: int) -> list[int]:
        monkeypatch.setattr(throttling, "_leases", leases)
        return [client.get(PROGRESS).status_code for _ in range(requests)]

    assert in_process(first, 1) == [200]
    assert in_process(second, 300) == [200] * 297 + [429] * 3
    assert in_process(first, 3) == [200, 200, 429]  # its lease's last two, then the rate
    assert in_process(second, 1) == [429]

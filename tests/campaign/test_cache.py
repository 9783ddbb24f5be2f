"""The Redis cache keeps one client per connection pool and behaves as Django's."""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings

from campaign.cache import KeptClientRedisCache
from conftest import need
from tests.campaign.test_settings import _settings_in_subprocess


def _redis_url() -> str:
    return os.environ.get("PORTAL_CACHE_URL") or settings.CELERY_BROKER_URL or "redis://127.0.0.1:6379/11"


@pytest.fixture
def redis_cache():
    url = _redis_url()
    try:
        import redis

        up = url.startswith("redis") and bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        up = False
    need("Redis", up, "set PORTAL_CACHE_URL=redis://… to test the Redis cache")
    return KeptClientRedisCache(url, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})


def test_the_portal_uses_it_when_a_cache_url_is_set():
    result = _settings_in_subprocess(
        {"PORTAL_CACHE_URL": "redis://127.0.0.1:6379/11"}, "settings.CACHES['default']['BACKEND']"
    )
    assert result.stdout.strip() == "campaign.cache.KeptClientRedisCache"


def test_it_reads_and_writes_as_djangos_redis_cache(redis_cache):
    assert redis_cache.get("card") is None
    redis_cache.set("card", {"html": "<div>"}, 30)
    assert redis_cache.get("card") == {"html": "<div>"}
    assert redis_cache.add("card", "other", 30) is False
    assert redis_cache.add("n", 1, 30) is True
    assert redis_cache.incr("n", 2) == 3
    redis_cache.delete("card")
    assert redis_cache.get("card", "gone") == "gone"
    redis_cache.delete_many(["n"])


def test_every_call_reuses_the_client_of_its_pool(redis_cache):
    client = redis_cache._cache.get_client("a")
    assert redis_cache._cache.get_client("b") is client
    assert redis_cache._cache.get_client("c", write=True) is client  # one server: one pool


def test_incr_is_one_round_trip_keeps_the_expiry_and_refuses_a_missing_key(redis_cache, monkeypatch):
    redis_cache.add("window", 5, 30)
    client = redis_cache._cache.get_client("window", write=True)
    commands = []
    execute = client.execute_command
    monkeypatch.setattr(client, "execute_command", lambda *args, **kw: commands.append(args[0]) or execute(*args, **kw))
    assert redis_cache.incr("window") == 6
    assert redis_cache.incr("window", 4) == 10
    assert commands == ["EVAL", "EVAL"]  # Django's own: EXISTS then INCRBY, two round trips each
    assert 0 < client.ttl(redis_cache.make_key("window")) <= 30
    with pytest.raises(ValueError, match="not found"):
        redis_cache.incr("missing")
    assert redis_cache.get("missing") is None  # nothing created
    redis_cache.delete_many(["window"])

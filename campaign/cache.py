"""Django's Redis cache, with one client per connection pool instead of one per call, and one round trip per incr.

Django's RedisCacheClient builds a new ``redis.Redis`` for every cache call, and building one
(its response-callback table) cost about as much CPU as the call itself. A ``redis.Redis`` is
thread-safe and only wraps the pool, so each pool keeps one.

Its ``incr`` asks whether the key exists, then increments: two round trips for the throttle of
every API call (campaign.throttling), which cost as much as a database query (bench/load.py).
Here one script does both, atomically, with the same answer: ValueError for a missing key.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

# INCRBY only a key that exists (a missing one answers nil); Redis keeps the compiled script.
_INCR_EXISTING = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('incrby', KEYS[1], ARGV[1]) end"


class _KeptClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client

    def incr(self, key, delta):
        value = self.get_client(key, write=True).eval(_INCR_EXISTING, 1, key, delta)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class KeptClientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _KeptClientRedisCacheClient

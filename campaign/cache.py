"""Django's Redis cache, with one client per connection pool instead of one per call.

Django's RedisCacheClient builds a new ``redis.Redis`` for every cache call, and building one
(its response-callback table) cost about as much CPU as the call itself: the throttle of every
API call makes two. A ``redis.Redis`` is thread-safe and only wraps the pool, so each pool keeps one.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


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


class KeptClientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _KeptClientRedisCacheClient

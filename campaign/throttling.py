"""The API's per-client rate limit as a counter per time window.

DRF's ScopedRateThrottle keeps, per client, the list of its request times of the last period
and reads and writes that whole list in the cache on every request: at the system scope's
6,000/min the list holds up to 6,000 times (~50 KB pickled each way per call), so the throttle
cost more than the answer. This one counts the requests of the current window with one atomic
increment: the same rates, scopes and 429 with Retry-After; a client gets at most the rate per
window (a burst across a window's end can reach twice the rate over one period, as with any
fixed-window limiter).
"""

from __future__ import annotations

from rest_framework.throttling import ScopedRateThrottle


class WindowScopedRateThrottle(ScopedRateThrottle):
    def allow_request(self, request, view) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        key = f"{self.key}:{window}"
        try:
            count = self.cache.incr(key)
        except ValueError:  # the window's first request (or its key just expired)
            # add() fails when another process opened the window first: count on from there.
            count = 1 if self.cache.add(key, 1, self.duration + 1) else self.cache.incr(key)
        return count <= self.num_requests

    def wait(self) -> float:
        return self.duration - (self.now % self.duration)

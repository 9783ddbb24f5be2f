"""The API's per-client rate limit as a counter per time window, taken from the cache in leases.

DRF's ScopedRateThrottle keeps, per client, the list of its request times of the last period
and reads and writes that whole list in the cache on every request: at the system scope's
6,000/min the list holds up to 6,000 times (~50 KB pickled each way per call), so the throttle
cost more than the answer. This one counts the requests of the current window in the shared
cache: the same rates, scopes and 429 with Retry-After; a client gets at most the rate per
window (a burst across a window's end can reach twice the rate over one period, as with any
fixed-window limiter).

A process takes its requests from the shared count in leases of 1/100 of the rate (at most 100,
at least 1) with one atomic increment, and spends a lease in memory: one round trip per lease
instead of one per request, which cost the progress API as much as its own database query
(bench/load.py). The shared count never passes the rate, so no client is ever let through
beyond it; a lease a process has not spent when its client reaches the rate elsewhere makes
that client refused up to (lease − 1) requests early per process, under 1 % of the rate. Rates
of up to 199 a window (the member and anonymous scopes) take leases of one: every request is
counted in the cache as it comes.
"""

from __future__ import annotations

import threading

from rest_framework.throttling import ScopedRateThrottle

LEASE_SHARE = 100  # a lease is 1/LEASE_SHARE of the rate
LEASE_MAX = 100

_leases_lock = threading.Lock()
# This process's unspent leases: (client key, window) → requests left.
_leases: dict[tuple[str, int], int] = {}


def leases_forget() -> None:
    with _leases_lock:
        _leases.clear()


def _lease_spend(key: tuple[str, int]) -> bool:
    with _leases_lock:
        left = _leases.get(key, 0)
        if left <= 0:
            return False
        _leases[key] = left - 1
        return True


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
        if _lease_spend((self.key, window)):
            return True
        lease = max(1, min(LEASE_MAX, self.num_requests // LEASE_SHARE))
        key = f"{self.key}:{window}"
        try:
            count = self.cache.incr(key, lease)
        except ValueError:  # the window's first lease (or its key just expired)
            # add() fails when another process opened the window first: count on from there.
            count = lease if self.cache.add(key, lease, self.duration + 1) else self.cache.incr(key, lease)
        granted = min(lease, self.num_requests - (count - lease))  # the part of the lease within the rate
        if granted <= 0:
            return False
        with _leases_lock:
            for stale in [k for k in _leases if k[1] != window]:
                del _leases[stale]
            _leases[(self.key, window)] = _leases.get((self.key, window), 0) + granted - 1
        return True

    def wait(self) -> float:
        return self.duration - (self.now % self.duration)

"""``/healthz`` and ``/readyz`` for a load balancer and a probe (JSON).

``/healthz``: the process answers (no service is asked). ``/readyz``: the database, the cache
and, when one is configured, the broker answer within a second each; 200 when all do, 503 naming
the ones that do not. It also reports the scoring lag (``campaign.metrics``) for information: a
lag is the workers' problem, and taking the web processes out of the balancer would not help it.

Both are answered by ``HealthMiddleware``, first in the chain, before the host check and the
HTTPS redirect: a probe calls a container by its address over plain HTTP.
"""

from __future__ import annotations

import logging
import time
import uuid

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from campaign.metrics import scoring_lag

log = logging.getLogger("campaign.health")


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    key = f"portal:readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not keep a value")
    cache.delete(key)


def _broker() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    client.ping()


def readiness_checks() -> dict[str, dict]:
    """Each service's state: {"ok": bool, "ms": time taken, "error": why, when not ok}."""
    checks = {"database": _database, "cache": _cache}
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        checks["broker"] = _broker
    results: dict[str, dict] = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # any failure of a service is the answer, not an error of the probe
            log.warning("readiness: %s is not reachable: %s", name, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return results


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness_checks()
    ready = all(check["ok"] for check in checks.values())
    body: dict = {"status": "ok" if ready else "unavailable", "checks": checks}
    if checks["database"]["ok"]:
        try:
            lag, unscored = scoring_lag()
            body["scoring"] = {"lag_seconds": round(lag, 1), "members_due": unscored}
        except Exception as exc:
            log.warning("readiness: the scoring lag could not be read: %s", exc)
    return JsonResponse(body, status=200 if ready else 503)


class HealthMiddleware:
    """Answers /healthz and /readyz before anything else (no host check, no redirect, no session)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz":
            return healthz(request)
        if request.path_info == "/readyz":
            return readyz(request)
        return self.get_response(request)

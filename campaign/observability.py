"""What operations see of the portal: JSON log lines with their request and member, shared counters.

Log lines carry the request id (``campaign.middleware.RequestIdMiddleware``) and the member id
when a view has bound one (``log_member_bind``), never a request body, a token or a row.

Counters that several processes add to (web workers, Celery workers, on several machines) live
in the portal's cache, which is Redis in production (``PORTAL_CACHE_URL``): one ``INCR`` each, read
by ``/metrics`` whichever process answers the scrape. Without Redis they are per process, which is
what a single ``runserver`` needs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import traceback
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

from django.core.cache import cache

_request_id: ContextVar[str | None] = ContextVar("portal_request_id", default=None)
_member_id: ContextVar[str | None] = ContextVar("portal_member_id", default=None)

COUNTER_PREFIX = "portal:metric:"
log = logging.getLogger("campaign.observability")


@contextlib.contextmanager
def request_context(*, request_id: str) -> Iterator[None]:
    """Within: every log line carries ``request_id`` (and the member id a view binds)."""
    request_token = _request_id.set(request_id)
    member_token = _member_id.set(None)
    try:
        yield
    finally:
        _member_id.reset(member_token)
        _request_id.reset(request_token)


def log_member_bind(member_id: str) -> None:
    """Name the member the current request is about, for its log lines."""
    _member_id.set(member_id)


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``member_id`` to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs an answer >= 400 after the middleware's context has ended: its record
        # carries the request, which carries the id.
        record.request_id = _request_id.get() or getattr(getattr(record, "request", None), "request_id", None)
        record.member_id = _member_id.get()
        return True


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request and member ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "member_id", "status_code"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(line, ensure_ascii=True, default=str)


def counter_add(name: str, amount: int = 1) -> None:
    """Add to a shared counter; a cache that is down loses the count, never the caller's work."""
    if amount <= 0:
        return
    key = COUNTER_PREFIX + name
    try:
        if not cache.add(key, amount, timeout=None):
            cache.incr(key, amount)
    except Exception:  # the cache (Redis) is down or flushed between add and incr: a lost count
        log.warning("metric counter %s could not be added to", name, exc_info=True)


def counters_read(names: list[str]) -> dict[str, int]:
    """The shared counters ``names`` (0 for one never added to); empty when the cache is down."""
    try:
        found = cache.get_many([COUNTER_PREFIX + name for name in names])
    except Exception:
        log.warning("metric counters could not be read", exc_info=True)
        return {}
    return {name: int(found.get(COUNTER_PREFIX + name, 0)) for name in names}


def task_failure_count(sender=None, **_kwargs) -> None:
    """Celery's ``task_failure`` signal: count the failure by task name (retries are not failures)."""
    counter_add(f"task_failures:{getattr(sender, 'name', 'unknown')}")

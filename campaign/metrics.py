"""Prometheus metrics at ``/metrics`` (prometheus-client), for staff or a bearer token.

Request latency is measured in the web process that served the request (a histogram per view);
with several gunicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by
them, and every scrape adds up all the workers. Everything else is read when the scrape arrives,
from where the truth is kept, so it is the same whichever process answers: the broker's queue
length (Redis), the shared counters (the cache: task failures, broker refusals, records of the
API), and from the database the imports by state, the records of files and the scoring lag.

Scoring lag: how long the member due longest has waited for scoring. Every stored record marks its
member due in the scoring outbox (``missions.models.ScoringDue``) in the same transaction, and the
scoring that covers the member clears it, so the lag is exact: one index read on the outbox.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

import redis
from celery import current_app
from django.conf import settings
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from campaign.models import ImportBatch, ImportStatus
from campaign.observability import counters_read
from missions.models import ScoringDue
from missions.services import scoring_lag_seconds

RECORD_OUTCOMES = ("accepted", "duplicates", "rejected")
# kombu's Redis transport keeps a queue's messages of priority p > 0 in "<queue>\x06\x16<p>".
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
log = logging.getLogger("campaign.metrics")

REQUEST_LATENCY = Histogram(
    "portal_request_duration_seconds",
    "Time to answer a request, by view (the URL pattern's name) and method.",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class MetricsMiddleware:
    """Times every request into REQUEST_LATENCY, labelled by the view that answered it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "unmatched"
        REQUEST_LATENCY.labels(view=view, method=request.method or "").observe(time.perf_counter() - started)
        return response


def broker_queue_length() -> int | None:
    """Messages waiting in the broker's default queue (Redis only; None when unknown or unreachable)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    queue = current_app.conf.task_default_queue or "celery"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        with client.pipeline(transaction=False) as pipe:
            for suffix in _PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
            return sum(pipe.execute())
    except redis.RedisError:
        log.warning("the broker's queue length could not be read", exc_info=True)
        return None


def scoring_lag() -> tuple[float, int]:
    """(Seconds the member due longest has waited for scoring, how many members are due): the outbox."""
    return scoring_lag_seconds(), ScoringDue.objects.count()


def _task_names() -> list[str]:
    return sorted(name for name in current_app.tasks if not name.startswith("celery."))


class PortalCollector(Collector):
    """The metrics read at scrape time (see the module's docstring)."""

    def collect(self):
        names = [f"task_failures:{name}" for name in _task_names()]
        names += ["broker_enqueue_failures", *(f"records:api:{outcome}" for outcome in RECORD_OUTCOMES)]
        counted = counters_read(names)
        failures = CounterMetricFamily(
            "portal_celery_task_failures",
            "Celery tasks that failed for good (after retries), by task.",
            labels=["task"],
        )
        for name in _task_names():
            failures.add_metric([name], counted.get(f"task_failures:{name}", 0))
        yield failures
        yield CounterMetricFamily(
            "portal_broker_enqueue_failures",
            "Tasks the broker refused when enqueued (the data was stored; scoring waits for the next run).",
            value=counted.get("broker_enqueue_failures", 0),
        )
        yield from self._records(counted)
        yield from self._database()
        queued = broker_queue_length()
        if queued is not None:
            yield GaugeMetricFamily("portal_celery_queue_length", "Tasks waiting in the broker's queue.", value=queued)

    def _records(self, counted: dict[str, int]):
        records = CounterMetricFamily(
            "portal_records",
            "Transaction records received, by source (api, file) and outcome (accepted, duplicates, rejected).",
            labels=["source", "outcome"],
        )
        for outcome in RECORD_OUTCOMES:
            records.add_metric(["api", outcome], counted.get(f"records:api:{outcome}", 0))
        files = ImportBatch.objects.aggregate(*(Sum(outcome) for outcome in RECORD_OUTCOMES))
        for outcome in RECORD_OUTCOMES:
            records.add_metric(["file", outcome], files.get(f"{outcome}__sum") or 0)
        yield records

    def _database(self):
        imports = GaugeMetricFamily("portal_imports", "Transaction imports by state.", labels=["state"])
        states = dict(ImportBatch.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        for state in ImportStatus.values:
            imports.add_metric([state], states.get(state, 0))
        yield imports
        lag, unscored = scoring_lag()
        yield GaugeMetricFamily(
            "portal_scoring_lag_seconds", "How long the member due longest has waited for scoring.", value=lag
        )
        yield GaugeMetricFamily(
            "portal_members_due_for_scoring", "Members with records not scored yet (the outbox).", value=unscored
        )


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_LATENCY)
    registry.register(PortalCollector())
    return registry


def metrics_allowed(request: HttpRequest) -> bool:
    """Staff signed in, or ``Authorization: Bearer <PORTAL_METRICS_TOKEN>`` when that token is set."""
    token = settings.PORTAL_METRICS_TOKEN
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_staff)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse("Forbidden: staff or the metrics token only.\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)

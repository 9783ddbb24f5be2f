"""Error reports to Sentry, set up from the settings when ``SENTRY_DSN`` is set.

Kept apart from the settings' other helpers because sentry-sdk must be initialised while the
settings load, before Django and Celery start, so that its integrations hook into both.
"""

from __future__ import annotations

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration


def sentry_init(*, dsn: str, environment: str, **options) -> None:
    """Report unhandled errors of requests and Celery tasks; no personal data (no ids, bodies, cookies)."""
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=0.0,
        **options,
    )

"""Error reports to Sentry, set up from the settings when ``SENTRY_DSN`` is set.

Kept apart from the settings' other helpers because sentry-sdk must be initialised while the
settings load, before Django and Celery start, so that its integrations hook into both.
"""

from __future__ import annotations

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration


def sentry_init(*, dsn: str, environment: str, **options) -> None:
    """Report unhandled errors of requests and Celery tasks.

    sentry-sdk's default collects no personal data (no user, cookies, bodies or auth headers); the
    option that said so explicitly (send_default_pii) is deprecated, so the default is relied on.
    """
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=0.0,
        **options,
    )

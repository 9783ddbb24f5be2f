"""Fixtures shared by every test: the seeded campaign, the portal's clock, API clients, services."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import datetime

import pytest
from django.db import connection
from django.utils import translation

from campaign.env import parse_datetime_jst

IN_CI = os.environ.get("CI", "").lower() == "true"


def need(what: str, available: bool, why: str) -> None:
    """Skip a test whose service is missing on a laptop; fail it in CI, where nothing may be missing.

    CI runs the suite twice (.ci/run): each pass names the services it provides in
    PORTAL_TEST_SERVICES (postgres, redis, chromium). Under CI=true a missing service that
    the pass provides is a failure; one the pass does not provide (PostgreSQL in the SQLite
    pass) is a skip, because the other pass runs that test. Unset: every service is required.
    """
    if available:
        return
    if IN_CI and _ci_pass_provides(what):
        pytest.fail(f"{what} is required under CI=true: {why}", pytrace=False)
    pytest.skip(f"{what} not available: {why}")


def _ci_pass_provides(what: str) -> bool:
    declared = os.environ.get("PORTAL_TEST_SERVICES")
    if declared is None:
        return True
    provided = {name.strip().lower() for name in declared.split(",") if name.strip()}
    wanted = {name for name in ("postgres", "redis", "chromium") if name in what.lower()}
    return not wanted or bool(wanted & provided)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_configure(config):
    """The test client and the live server speak plain http: no redirect to https, no secure-only cookies.

    With DJANGO_DEBUG off the settings turn HTTPS on (a production default). Set for the whole
    session, before the live server (session-scoped) loads its middleware; tests of the HTTPS
    settings read them in a fresh process (tests/campaign/test_security.py).
    """
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0


@pytest.fixture(autouse=True)
def _uploads_imported_inline(settings):
    """Without a broker an upload is imported on a thread of the web process (``make run``); tests
    see it done when the upload's on-commit callbacks have run. tests/campaign/test_import_thread.py
    turns the thread back on."""
    settings.PORTAL_IMPORT_THREAD = False


@pytest.fixture(autouse=True)
def _tasks_inline(request):
    """Tasks run inline in tests, even with a broker configured; `worker` tests use a real worker."""
    from campaign.celery import app

    if request.node.get_closest_marker("worker"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def clock(settings) -> Callable[[str | datetime], datetime]:
    """Set the portal's clock (PORTAL_NOW) for this test: ``clock("2026-03-10 12:00")`` (JST)."""

    def set_now(when: str | datetime) -> datetime:
        settings.PORTAL_NOW = parse_datetime_jst(when) if isinstance(when, str) else when
        return settings.PORTAL_NOW

    return set_now


@pytest.fixture
def english(settings):
    """Run the test in English: messages of services and commands, and pages without Accept-Language.

    The portal speaks Japanese by default; tests that assert the English source messages say so
    with ``pytestmark = pytest.mark.usefixtures("english")``.
    """
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def campaign(db):
    """The campaign of the spec, loaded from seeds/ as `manage.py load_campaign` does."""
    from campaign.seeding import campaign_load

    loaded, _report = campaign_load()
    return loaded


@pytest.fixture
def in_campaign(clock, campaign):
    """The seeded campaign with the clock inside its period (2026-03-15 12:00 JST)."""
    clock("2026-03-15T12:00:00+09:00")
    return campaign


@pytest.fixture
def system_client(db):
    """A DRF client authenticated as a system API client."""
    from rest_framework.test import APIClient

    from campaign.auth import api_client_create

    _user, key = api_client_create(name="test-system")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def postgres_only(db):
    need("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL=postgres://… to run this test")


@pytest.fixture(scope="session", autouse=True)
def _cache_database_per_worker():
    """Under pytest-xdist each worker keeps its cache in a Redis database of its own.

    Tests empty the cache with ``cache.clear()``, which on Redis empties the whole database: with
    one database for all workers, a test in one worker wiped the keys another was counting (the
    throttle's, a kept stamp card) in the middle of its requests.
    """
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings
    from django.test import override_settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    location = str(settings.CACHES["default"].get("LOCATION", ""))
    if not worker.startswith("gw") or not location.startswith("redis"):
        yield
        return
    parts = urlsplit(location)
    number = (int(parts.path.strip("/") or 0) - int(worker[2:])) % 16  # gw0 keeps the configured one
    cache = {**settings.CACHES["default"], "LOCATION": urlunsplit(parts._replace(path=f"/{number}"))}
    with override_settings(CACHES={**settings.CACHES, "default": cache}):
        yield


@pytest.fixture(autouse=True)
def _fresh_kept_copies():
    """Each test starts without a kept copy of another test's campaign, courses and missions, nor
    the throttle's leases of another test's clients (campaign.throttling)."""
    from campaign.models import current_forget
    from campaign.throttling import leases_forget
    from missions.progress import structure_forget

    structure_forget()
    current_forget()
    leases_forget()
    yield
    structure_forget()
    current_forget()

"""Fixtures shared by every test: the seeded campaign, the portal's clock, API clients, services."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import datetime

import pytest
from django.db import connection

from campaign.env import parse_datetime_jst

IN_CI = os.environ.get("CI", "").lower() == "true"


def need(what: str, available: bool, why: str) -> None:
    """Skip a test whose service is missing on a laptop; fail it in CI, where nothing may be missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true: {why}", pytrace=False)
    pytest.skip(f"{what} not available: {why}")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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

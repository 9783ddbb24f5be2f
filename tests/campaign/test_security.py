"""Secure by default (issue 17 §4): security headers on every page, HTTPS on unless DEBUG or PORTAL_HTTPS=0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "x" * 20 + "production-secret-0123456789-abcdefghijklmnop"
PAGES = ["/", "/login/", "/merchants/", "/lottery/", "/admin/login/", "/api/v1/campaign", "/api/docs/", "/api/redoc/"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_carries_the_security_headers(client, in_campaign, url):
    response = client.get(url)
    assert response.status_code == 200
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
        if directive.strip()
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval, nothing from outside
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]


def test_the_admin_pages_carry_the_policy_too(admin_client, in_campaign):
    response = admin_client.get("/admin/campaign/member/")
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """A fresh process with the production environment: none of this machine's portal variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_", "DATABASE_", "CELERY_"))}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_only_a_secret_key_and_allowed_hosts():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS="stamprally.example.jp",
    )
    assert result.returncode == 0, result.stdout + result.stderr


SHOW_HTTPS = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'campaign.settings'; django.setup();"
    "from django.conf import settings as s;"
    "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
)


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "True True True 31536000"),  # production forgot every HTTPS variable: secure anyway
        ({"PORTAL_HTTPS": "0"}, "False False False 0"),  # a plain-http test box says so
        ({"DJANGO_DEBUG": "1"}, "False False False 0"),  # make run
        ({"DJANGO_DEBUG": "1", "PORTAL_HTTPS": "1"}, "True True True 31536000"),
    ],
)
def test_https_settings_are_on_unless_debug_or_turned_off(env, expected):
    result = _run(["-c", SHOW_HTTPS], **env)
    assert result.stdout.strip() == expected, result.stderr


def test_plain_http_is_redirected_to_https_when_https_is_on(client, in_campaign, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/", HTTP_HOST="testserver")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get("/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
